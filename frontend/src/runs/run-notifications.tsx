// Finished-run notifications from ws/events/ (my runs only), shown bottom-left on every page.
import { useEffect } from "react";
import { Link } from "react-router";
import { useSession } from "../app/session";
import { dismissNotification, useFeed, useWorkspaceFeed } from "./runs-store";
import "./runs.css";

const SHOW_MS = 8000;

export function RunNotifications() {
  const { session } = useSession();
  useWorkspaceFeed(session.status === "signed-in" ? session.user.id : null);
  const notifications = useFeed((f) => f.notifications);
  useEffect(() => {
    if (!notifications.length) return;
    const oldest = notifications[0]!;
    const t = setTimeout(() => dismissNotification(oldest.id), SHOW_MS);
    return () => clearTimeout(t);
  }, [notifications]);
  if (!notifications.length) return null;
  return (
    <div className="fy-notifications" aria-live="polite">
      {notifications.map((n) => (
        <div className="fy-notification" key={n.id} role="status">
          <span className={`fy-run-pill status-${n.run.status}`}>{n.run.status}</span>
          <span>
            Run <Link to={`/runs/${n.run.id}`}>{n.run.id.slice(0, 8)}</Link>
            {n.run.error ? `: ${n.run.error}` : ""}
          </span>
          <button type="button" aria-label="Dismiss" onClick={() => dismissNotification(n.id)}>
            ×
          </button>
        </div>
      ))}
    </div>
  );
}
