// In-app notification of approvals waiting for the signed-in user: a count in the top bar (polled, and
// refreshed at once after a decision made in this tab) and the /approvals page listing them.
import { useEffect } from "react";
import { Link } from "react-router";
import { errorMessage } from "../api/client";
import { ErrorState, Loading } from "../app/status-views";
import { usePolled } from "../app/use-polled";
import { ApprovalCard } from "./approval-card";
import { approvalsApi, type Approval } from "./approvals-api";
import "./approvals.css";

export const PENDING_POLL_MS = 30_000;
const CHANGED = "flowyard:approvals-changed";

/** Tell the badge (and pages) in this tab that an approval was decided. */
export function notifyApprovalsChanged(): void {
  window.dispatchEvent(new Event(CHANGED));
}

function usePending(): { approvals: Approval[] | null; error: string | null; reload: () => void } {
  const pending = usePolled(
    (signal) => approvalsApi.list(true, signal).then((page) => page.results),
    [],
    () => PENDING_POLL_MS,
  );
  const { refresh } = pending;
  useEffect(() => {
    window.addEventListener(CHANGED, refresh);
    return () => window.removeEventListener(CHANGED, refresh);
  }, [refresh]);
  return { approvals: pending.data, error: pending.error ? errorMessage(pending.error) : null, reload: refresh };
}

/** "Approvals" in the top bar, with the number waiting for this user. */
export function ApprovalsNavLink() {
  const { approvals } = usePending();
  const count = approvals?.length ?? 0;
  return (
    <Link to="/approvals" aria-label={count ? `Approvals (${count} waiting for you)` : "Approvals"}>
      Approvals
      {count > 0 && (
        <span className="fy-nav-badge" data-testid="approvals-badge">
          {count}
        </span>
      )}
    </Link>
  );
}

/** /approvals: every approval waiting for the signed-in user, each with its outputs and the buttons. */
export function ApprovalsPage() {
  const { approvals, error, reload } = usePending();
  if (error && !approvals)
    return <ErrorState title="Could not load your approvals" error={new Error(error)} onRetry={reload} />;
  if (!approvals) return <Loading what="your approvals" />;
  return (
    <section className="fy-runs-page">
      <header>
        <h1>Approvals</h1>
      </header>
      {approvals.length === 0 ? (
        <p className="fy-muted">Nothing waits for your approval.</p>
      ) : (
        <div className="fy-approvals">
          {approvals.map((a) => (
            <ApprovalCard key={a.id} approval={a} showRun onDecided={() => notifyApprovalsChanged()} />
          ))}
        </div>
      )}
    </section>
  );
}
