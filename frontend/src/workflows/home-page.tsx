// Home: the caller's workflows, or an empty state that leads to the editor.
import { Link, Navigate } from "react-router";
import { workflows } from "../api/endpoints";
import { useSession } from "../app/session";
import { ErrorState, Loading } from "../app/status-views";
import { useAsync } from "../app/use-async";

function WorkflowList() {
  const list = useAsync(() => workflows.list(), []);
  if (list.status === "loading") return <Loading what="your workflows" />;
  if (list.status === "error") return <ErrorState title="Could not load your workflows" error={list.error} onRetry={list.reload} />;
  if (!list.data.length) {
    return (
      <div className="fy-empty-state">
        <h2>No workflows yet</h2>
        <p>A workflow is a graph of nodes: load an image, change it, save the result.</p>
        <Link className="fy-button" to="/workflows/new">
          Create your first workflow
        </Link>
      </div>
    );
  }
  return (
    <ul className="fy-workflow-list">
      {list.data.map((w) => (
        <li key={w.id}>
          <Link to={`/workflows/${w.id}`}>{w.name}</Link>
          {w.description && <p>{w.description}</p>}
          <small>
            {w.latest_version ? `version ${w.latest_version}` : "no versions"} · updated {new Date(w.updated).toLocaleString()}
            {w.is_template ? " · template" : ""}
          </small>
        </li>
      ))}
    </ul>
  );
}

export function HomePage() {
  const { session, refresh } = useSession();
  if (session.status === "loading") return <Loading what="your account" />;
  if (session.status === "anonymous") return <Navigate to="/login" replace />;
  if (session.status === "error") return <ErrorState title="Could not check who is signed in" error={new Error(session.message)} onRetry={refresh} />;
  return (
    <section className="fy-home">
      <header>
        <h1>Workflows</h1>
        <Link className="fy-button" to="/workflows/new">
          New workflow
        </Link>
      </header>
      <WorkflowList />
    </section>
  );
}
