import { Link, Outlet, useNavigate } from "react-router";
import { auth } from "../api/endpoints";
import { ApprovalsNavLink } from "../approvals/pending-approvals";
import { RunNotifications } from "../runs/run-notifications";
import { ServerBanner } from "./server-banner";
import { useSession } from "./session";

export function AppShell() {
  const { session, setUser } = useSession();
  const navigate = useNavigate();
  return (
    <div className="fy-app">
      <ServerBanner />
      <nav className="fy-topbar">
        <Link to="/" className="fy-brand">
          Flowyard
        </Link>
        <span className="fy-spacer" />
        {session.status === "signed-in" ? (
          <>
            <Link to="/">Workflows</Link>
            <Link to="/runs">Runs</Link>
            <ApprovalsNavLink />
            <Link to="/apps">Apps</Link>
            <Link to="/packs">Marketplace</Link>
            <Link to="/workers">Workers</Link>
            <Link to="/models">Models</Link>
            {session.user.is_site_admin && <Link to="/packs/review">Review</Link>}
            <Link to="/settings/tokens">API tokens</Link>
            <span className="fy-user">{session.user.username}</span>
            <button
              type="button"
              onClick={() => {
                void auth.logout().finally(() => {
                  setUser(null);
                  navigate("/login");
                });
              }}
            >
              Sign out
            </button>
          </>
        ) : session.status === "anonymous" ? (
          <>
            <Link to="/login">Sign in</Link>
            <Link to="/signup">Create account</Link>
          </>
        ) : null}
      </nav>
      <main className="fy-main">
        <Outlet />
      </main>
      <RunNotifications />
    </div>
  );
}
