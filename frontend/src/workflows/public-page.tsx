// /p/:token: a workflow shared by public link, read-only, no sign-in needed.
import { useMemo, useState } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { ApiError, errorMessage } from "../api/client";
import { nodes as nodesApi, workflows } from "../api/endpoints";
import { useSession } from "../app/session";
import { documentOf, type NodeSchema } from "../api/schemas";
import { workflowExtras, type PublicWorkflow } from "../api/workflow-extras-api";
import { ErrorState, Loading } from "../app/status-views";
import { useAsync } from "../app/use-async";
import { EditorCanvas } from "../editor/components/canvas";
import { makeCatalog } from "../editor/graph-model";
import { fromDocument } from "../editor/serialization";
import { createEditorStore } from "../editor/store";
import { EditorStoreProvider } from "../editor/store-context";
import { relativeTime } from "./diff-summary";
import { schemasFromGraph } from "./document-schemas";

async function load(token: string): Promise<{ wf: PublicWorkflow; schemas: NodeSchema[] }> {
  const wf = await workflowExtras.publicWorkflow(token);
  const doc = wf.version ? documentOf({ version: wf.version }) : null;
  // Signed-in visitors get the real node schemas; anonymous ones a view built from the graph itself.
  const catalog = await nodesApi.catalog().catch(() => null);
  const schemas = catalog?.nodes ?? (doc ? schemasFromGraph(doc.graph) : []);
  return { wf, schemas };
}

/** Signed-in visitors copy the shared version into their personal workspace; others are asked to sign in. */
function ForkPublic({ wf }: { wf: PublicWorkflow }) {
  const { session } = useSession();
  const navigate = useNavigate();
  const [error, setError] = useState<string | null>(null);
  const doc = wf.version ? documentOf({ version: wf.version }) : null;
  if (!doc) return null;
  if (session.status !== "signed-in") {
    return (
      <Link to="/login" title="Sign in to fork this workflow into your own workspace">
        Sign in to fork
      </Link>
    );
  }
  const fork = () => {
    setError(null);
    workflows.create({ workspace: session.user.personal_workspace.id, name: `${wf.name} (fork)`, ...doc }).then(
      (created) => navigate(`/workflows/${created.id}`),
      (exc: unknown) => setError(errorMessage(exc)),
    );
  };
  return (
    <>
      {error && (
        <span className="fy-form-error" role="alert">
          {error}
        </span>
      )}
      <button
        type="button"
        className="fy-primary"
        onClick={fork}
        title="Copy this version into your personal workspace to edit it"
      >
        Fork
      </button>
    </>
  );
}

function Shared({ wf, schemas }: { wf: PublicWorkflow; schemas: NodeSchema[] }) {
  const store = useMemo(() => {
    const doc = wf.version ? documentOf({ version: wf.version }) : null;
    const graph = doc ? fromDocument(doc, makeCatalog(schemas)) : undefined;
    return createEditorStore({ schemas, ...(graph ? { graph } : {}) });
  }, [wf, schemas]);
  return (
    <div className="fy-editor-page">
      <header className="fy-editor-header">
        <h1>{wf.name}</h1>
        <span className="fy-version">
          {wf.version ? `version ${wf.version.number}` : "no versions"} · updated {relativeTime(wf.updated)}
        </span>
        <span
          className="fy-readonly-badge"
          title="A public link shows the workflow; editing needs the editor role in its workspace. Fork it to edit your own copy."
        >
          read-only shared view
        </span>
        <span className="fy-spacer" />
        <ForkPublic wf={wf} />
        <Link to="/">Open Flowyard</Link>
      </header>
      {wf.description && <p className="fy-shared-description">{wf.description}</p>}
      <EditorStoreProvider store={store}>
        <EditorCanvas readOnly />
      </EditorStoreProvider>
    </div>
  );
}

export function PublicPage() {
  const { token = "" } = useParams();
  const state = useAsync(() => load(token), [token]);
  if (state.status === "loading") return <Loading what="the shared workflow" />;
  if (state.status === "error") {
    const gone = state.error instanceof ApiError && state.error.status === 404;
    return (
      <ErrorState
        title={gone ? "This link does not work" : "Could not open the shared workflow"}
        error={gone ? new Error("The link is unknown or its owner stopped sharing it.") : state.error}
        {...(gone ? {} : { onRetry: state.reload })}
      />
    );
  }
  return <Shared wf={state.data.wf} schemas={state.data.schemas} />;
}
