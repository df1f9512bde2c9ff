// /p/:token: a workflow shared by public link, read-only, no sign-in needed.
import { useMemo } from "react";
import { Link, useParams } from "react-router";
import { ApiError } from "../api/client";
import { nodes as nodesApi } from "../api/endpoints";
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
        <span className="fy-readonly-badge">read-only shared view</span>
        <span className="fy-spacer" />
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
