// /workflows/new and /workflows/:id: load the node catalog and the workflow, edit, save versions with Ctrl+S.
import { useCallback, useEffect, useState, type FormEvent } from "react";
import { Link, useLocation, useNavigate, useParams } from "react-router";
import { errorMessage } from "../api/client";
import { nodes as nodesApi, workflows } from "../api/endpoints";
import type { NodeSchema, WorkflowDetail, WorkflowDocument } from "../api/schemas";
import { useSession } from "../app/session";
import { ErrorState, Loading } from "../app/status-views";
import { useAsync } from "../app/use-async";
import { EditorCanvas } from "../editor/components/canvas";
import { EditorRunsProvider } from "../runs/editor-runs";
import { RunButton, RunSidebar, useEditorRunner } from "../runs/editor-run-controls";
import { sampleSchemas } from "../editor/fixtures";
import { emptyGraph, makeCatalog } from "../editor/graph-model";
import { fromDocument, toDocument } from "../editor/serialization";
import { createEditorStore, type EditorStore } from "../editor/store";
import { EditorStoreProvider, useEditorStore, useEditorStoreApi } from "../editor/store-context";
import { NotFound } from "../app/not-found";
import { ApiError } from "../api/client";
import { EditorExtras } from "./editor-extras";
import { HeaderMenu } from "./header-menu";
import { ComfyImportNotice, ExportComfyWorkflowButton, ImportComfyButton } from "../comfy/comfy-controls";
import { readImportState } from "../comfy/comfy-import";
import { MissingPacksBanner } from "../packs/missing-packs-banner";
import { NewFromTemplateButton } from "../templates/new-from-template";
import { CoeditSession } from "../coedit/coedit-session";
import type { CoeditProvider } from "../coedit/provider";
import { SharedRuns } from "../coedit/shared-runs";

interface Loaded {
  schemas: NodeSchema[];
  workflow: WorkflowDetail | null;
  store: EditorStore;
}

async function load(id: number | null, useDemoCatalog: boolean, imported: WorkflowDocument | null): Promise<Loaded> {
  // A saved workflow's catalog includes the packs installed in its workspace, so it is read after the workflow.
  const wf = id === null ? null : await workflows.get(id);
  const schemas = useDemoCatalog
    ? sampleSchemas
    : await nodesApi.catalog(wf?.workflow.workspace).then((c) => {
        if (c.skipped.length) console.warn("Node schemas left out (unexpected shape):", c.skipped);
        return c.nodes;
      });
  const graph = wf?.document ? fromDocument(wf.document, makeCatalog(schemas)) : emptyGraph();
  const store = createEditorStore({ schemas, graph });
  // A ComfyUI import opens as an unsaved change of an empty workflow (Ctrl+Z empties the canvas again).
  if (imported) store.getState().change(() => fromDocument(imported, makeCatalog(schemas)));
  return { schemas, workflow: wf?.workflow ?? null, store };
}

function SaveDialog({
  isNew,
  defaultName,
  busy,
  error,
  onSave,
  onCancel,
}: {
  isNew: boolean;
  defaultName: string;
  busy: boolean;
  error: string | null;
  onSave(name: string, message: string): void;
  onCancel(): void;
}) {
  const submit = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    onSave(String(form.get("name") ?? defaultName).trim() || defaultName, String(form.get("message") ?? "").trim());
  };
  return (
    <div className="fy-modal-backdrop" onKeyDown={(e) => e.key === "Escape" && onCancel()}>
      <form className="fy-modal fy-form" onSubmit={submit} aria-label="Save workflow">
        <h2>{isNew ? "Save new workflow" : "Save a new version"}</h2>
        {isNew && (
          <label>
            Name
            <input name="name" defaultValue={defaultName} required autoFocus />
          </label>
        )}
        <label>
          Message (optional)
          <input name="message" placeholder="What changed?" autoFocus={!isNew} />
        </label>
        {error && (
          <p className="fy-form-error" role="alert">
            {error}
          </p>
        )}
        <p className="fy-actions">
          <button type="submit" disabled={busy}>
            {busy ? "Saving…" : "Save"}
          </button>
          <button type="button" onClick={onCancel}>
            Cancel
          </button>
        </p>
      </form>
    </div>
  );
}

/** Why the caller's role may not run this workflow (the Run button's tooltip). */
function runBlockedReason(role: string | null | undefined): string {
  return `Your role${role ? ` (${role})` : ""} lets you view this workflow, not run it: running needs the runner role or above. Fork it to run your own copy.`;
}

/** The header's "view only" mark: says which role edits, and that a fork is editable. */
function ViewOnlyBadge({ role }: { role: string | null }) {
  return (
    <span
      className="fy-readonly-badge"
      data-testid="view-only"
      title={`You are ${role ? `a ${role}` : "not an editor"} in this workspace. Changing this workflow needs the editor role (or admin, owner). Fork it to edit your own copy.`}
    >
      view only · editing needs the editor role
    </span>
  );
}

function EditorWorkspace({
  workflow,
  demo,
  onReload,
}: {
  workflow: WorkflowDetail | null;
  demo: boolean;
  onReload(): void;
}) {
  const store = useEditorStoreApi();
  const dirty = useEditorStore((s) => s.graph !== s.savedGraph);
  const { session } = useSession();
  const navigate = useNavigate();
  const [saving, setSaving] = useState<{ busy: boolean; error: string | null } | null>(null);
  const [name, setName] = useState(workflow?.name ?? "Untitled workflow");
  const [version, setVersion] = useState<number | null>(workflow?.latest_version ?? null);
  const canSave = !workflow?.permissions || workflow.permissions.edit;
  const runBlocked = workflow?.permissions && !workflow.permissions.run ? runBlockedReason(workflow.role) : null;

  const [live, setLive] = useState<CoeditProvider | null>(null);
  useEffect(() => {
    // Co-edited and connected, edits are already in the server's draft: leaving loses nothing.
    const warn = (e: BeforeUnloadEvent) => {
      if (store.getState().isDirty() && live?.status !== "synced") e.preventDefault();
    };
    window.addEventListener("beforeunload", warn);
    return () => window.removeEventListener("beforeunload", warn);
  }, [store, live]);

  const openSave = useCallback(() => {
    setSaving((current) => current ?? { busy: false, error: null });
  }, []);

  const runner = useEditorRunner(workflow, version);
  const onRun = runner.onRun;

  const save = async (newName: string, message: string) => {
    setSaving({ busy: true, error: null });
    const s = store.getState();
    const graph = s.graphToSave();
    const doc = toDocument(graph, s.catalog);
    let savedAs = "Saved.";
    try {
      if (workflow) {
        // Co-edited: the server's draft (everyone's edits) becomes the version, once it holds all of ours.
        if (!live) throw new Error("Not connected to the live draft yet; try again in a moment.");
        await live.flush();
        const v = await workflows.saveDraft(workflow.id, message ? { message } : {});
        savedAs = v.number === version ? `No changes since version ${v.number}.` : `Saved version ${v.number}.`;
        setVersion(v.number);
      } else {
        if (session.status !== "signed-in") throw new Error("Sign in to save workflows.");
        const created = await workflows.create({
          workspace: session.user.personal_workspace.id,
          name: newName,
          ...doc,
          ...(message ? { message } : {}),
        });
        setName(created.name);
        s.markSaved(s.graph);
        navigate(`/workflows/${created.id}`, { replace: true });
      }
      store.getState().markSaved(s.graph);
      setSaving(null);
      store.getState().notify("info", savedAs);
    } catch (exc) {
      setSaving({ busy: false, error: errorMessage(exc) });
    }
  };

  const importComfy = (
    <>
      <NewFromTemplateButton
        confirmLeave={() =>
          !store.getState().isDirty() || window.confirm("Discard your unsaved changes and start from a template?")
        }
      />
      <ImportComfyButton
        confirmLeave={() =>
          !store.getState().isDirty() || window.confirm("Discard your unsaved changes and open the import?")
        }
      />
    </>
  );

  return (
    <EditorRunsProvider store={runner.store}>
      <div className="fy-editor-page">
        <header className="fy-editor-header">
          <Link to="/">← Workflows</Link>
          <h1 title={name}>
            {name}
            {dirty && (
              <span className="fy-dirty" title="Unsaved changes">
                {" "}
                •
              </span>
            )}
          </h1>
          {version !== null && <span className="fy-version">v{version}</span>}
          {demo && <span className="fy-demo-badge">demo nodes (catalog unavailable)</span>}
          <span className="fy-spacer" />
          {workflow && <CoeditSession workflowId={workflow.id} onProvider={setLive} onVersion={setVersion} />}
          {workflow && <SharedRuns workflowId={workflow.id} />}
          {workflow ? (
            <EditorExtras
              workflow={workflow}
              name={name}
              version={version}
              onVersion={setVersion}
              readOnly={!canSave}
              fileItems={importComfy}
            />
          ) : (
            <HeaderMenu label="File" title="Import and export">
              {importComfy}
              <ExportComfyWorkflowButton name={name} />
            </HeaderMenu>
          )}
          {canSave ? (
            <button type="button" onClick={openSave} title="Save (Ctrl+S)">
              Save
            </button>
          ) : (
            <ViewOnlyBadge role={workflow?.role ?? null} />
          )}
          <RunButton runner={runner} blockedReason={runBlocked} />
        </header>
        {workflow && (
          <MissingPacksBanner
            workflow={workflow}
            onInstalled={() => {
              if (!store.getState().isDirty() || window.confirm("Reloading discards your unsaved changes. Reload now?"))
                onReload();
            }}
          />
        )}
        <ComfyImportNotice />
        <EditorCanvas
          onSave={canSave ? openSave : undefined}
          onRun={runBlocked ? undefined : onRun}
          readOnly={!canSave}
          aside={<RunSidebar workflowId={workflow?.id ?? null} />}
        />
        {saving && (
          <SaveDialog
            isNew={!workflow}
            defaultName={name}
            busy={saving.busy}
            error={saving.error}
            onSave={(n, m) => void save(n, m)}
            onCancel={() => setSaving(null)}
          />
        )}
      </div>
    </EditorRunsProvider>
  );
}

export function EditorPage() {
  const params = useParams();
  const id = params.id === undefined ? null : Number(params.id);
  const [demo, setDemo] = useState(false);
  const location = useLocation();
  const imported = id === null ? readImportState(location.state) : null;
  const state = useAsync(
    () => load(id !== null && Number.isInteger(id) ? id : null, demo, imported?.document ?? null),
    [id, demo, imported?.key],
  );
  if (id !== null && !Number.isInteger(id))
    return <ErrorState title="No such workflow" error={new Error(`"${params.id}" is not a workflow id.`)} />;
  if (state.status === "loading")
    return <Loading what={id === null ? "the node catalog" : "the workflow and node catalog"} />;
  if (state.status === "error" && state.error instanceof ApiError && state.error.status === 404 && id !== null) {
    return <NotFound what="workflow" />;
  }
  if (state.status === "error") {
    return (
      <div>
        <ErrorState
          title={id === null ? "Could not open the editor" : "Could not open this workflow"}
          error={state.error}
          onRetry={state.reload}
        />
        {!demo && (
          <p className="fy-status">
            <button type="button" onClick={() => setDemo(true)}>
              Open with the built-in demo nodes instead
            </button>
          </p>
        )}
      </div>
    );
  }
  return (
    <EditorStoreProvider store={state.data.store} key={`${id}-${imported?.key ?? ""}`}>
      <EditorWorkspace workflow={state.data.workflow} demo={demo} onReload={state.reload} />
    </EditorStoreProvider>
  );
}
