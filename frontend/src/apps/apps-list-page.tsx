// /apps: the apps of the caller's workspaces, each a link to its form.
import { Link } from "react-router";
import { ErrorState, Loading } from "../app/status-views";
import { useAsync } from "../app/use-async";
import { appsApi } from "./apps-api";
import "./apps.css";

export function AppsListPage() {
  const apps = useAsync(() => appsApi.list(), []);
  if (apps.status === "loading") return <Loading what="apps" />;
  if (apps.status === "error")
    return <ErrorState title="Apps are unavailable" error={apps.error} onRetry={apps.reload} />;
  return (
    <div className="fy-page fy-apps-page">
      <header className="fy-page-header">
        <h1>Apps</h1>
      </header>
      {!apps.data.length && (
        <p className="fy-empty">
          No apps yet. Open a workflow, mark inputs and outputs in its App panel, save, and publish it.
        </p>
      )}
      <ul className="fy-apps-list">
        {apps.data.map((app) => (
          <li key={app.slug}>
            <Link to={`/apps/${app.slug}`}>{app.title}</Link> <small className="fy-muted">/{app.slug}</small>
            {app.visibility === "public" && <span className="fy-run-pill">public</span>}
            {!app.enabled && <span className="fy-run-pill">unpublished</span>}
            {app.description && <p className="fy-hint">{app.description}</p>}
          </li>
        ))}
      </ul>
    </div>
  );
}
