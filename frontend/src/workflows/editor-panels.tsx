// Editor additions around the canvas: version history with diffs and restore, sharing and public links, fork,
// template flag, and import/export of the workflow document as a JSON file.
import { useRef, useState, type ChangeEvent, type FormEvent } from "react";
import { useNavigate } from "react-router";
import { errorMessage } from "../api/client";
import { workflows, workspaces } from "../api/endpoints";
import {
  documentOf,
  workflowDocumentSchema,
  graphSchema,
  type VersionDetail,
  type WorkflowDetail,
} from "../api/schemas";
import { publicPagePath, workflowExtras } from "../api/workflow-extras-api";
import { copyText } from "../app/require-sign-in";
import { useAsync } from "../app/use-async";
import { fromDocument, toDocument } from "../editor/serialization";
import { useEditorStoreApi } from "../editor/store-context";
import { editableWorkspaces, workflowEditReason } from "../teams/team-permissions";
import { diffSummary, nodeNamer, relativeTime } from "./diff-summary";

function authorName(author: VersionDetail["author"]): string {
  if (!author) return "someone";
  return typeof author === "string" ? author : author.username;
}

/** The diff of version `number` with the one before, its nodes named by title (from both versions' documents). */
async function loadChanges(workflowId: number, number: number, displayName: (type: string) => string | undefined) {
  const [diff, older, newer] = await Promise.all([
    workflowExtras.diff(workflowId, number - 1, number),
    workflows.version(workflowId, number - 1).catch(() => null),
    workflows.version(workflowId, number).catch(() => null),
  ]);
  const docs = [older, newer].map((v) => (v ? documentOf({ version: v }) : null));
  return diffSummary(diff, nodeNamer(docs, displayName));
}

function VersionChanges({ workflowId, number }: { workflowId: number; number: number }) {
  const store = useEditorStoreApi();
  const diff = useAsync(
    () => loadChanges(workflowId, number, (type) => store.getState().catalog.get(type)?.display_name),
    [workflowId, number],
  );
  if (diff.status === "loading") return <small className="fy-hint">Comparing with version {number - 1}…</small>;
  if (diff.status === "error") return <small className="fy-form-error">{errorMessage(diff.error)}</small>;
  return (
    <ul className="fy-diff" aria-label={`Changes in version ${number}`}>
      {diff.data.map((line) => (
        <li key={line}>{line}</li>
      ))}
    </ul>
  );
}

export function VersionHistoryPanel({
  workflow,
  current,
  onRestored,
  onClose,
}: {
  workflow: WorkflowDetail;
  current: number | null;
  onRestored(version: VersionDetail): void;
  onClose(): void;
}) {
  const list = useAsync(() => workflows.versions(workflow.id), [workflow.id, current]);
  const [open, setOpen] = useState<number | null>(null);
  const [error, setError] = useState<string | null>(null);
  const editReason = workflowEditReason(workflow.permissions);
  const store = useEditorStoreApi();
  const restore = (n: number) => {
    if (store.getState().isDirty() && !window.confirm("Restoring replaces your unsaved changes. Continue?")) return;
    setError(null);
    workflowExtras.restore(workflow.id, n).then(onRestored, (exc: unknown) => setError(errorMessage(exc)));
  };
  return (
    <aside className="fy-side-panel" aria-label="Version history">
      <header>
        <h2>Version history</h2>
        <button type="button" onClick={onClose} aria-label="Close version history">
          ×
        </button>
      </header>
      {error && (
        <p className="fy-form-error" role="alert">
          {error}
        </p>
      )}
      {list.status === "loading" && <p className="fy-hint">Loading versions…</p>}
      {list.status === "error" && <p className="fy-form-error">{errorMessage(list.error)}</p>}
      {list.status === "ready" && !list.data.length && <p className="fy-empty">No versions yet: save to create one.</p>}
      {list.status === "ready" && (
        <ol className="fy-versions">
          {list.data.map((v) => (
            <li key={v.number} data-version={v.number} className={v.number === current ? "current" : ""}>
              <div>
                <strong>v{v.number}</strong> {v.message ? `“${v.message}”` : <em className="fy-hint">no message</em>}
              </div>
              <small>
                {authorName(v.author)} · {relativeTime(v.created)}
                {v.number === current ? " · open now" : ""}
              </small>
              <div className="fy-actions">
                {v.number > 1 && (
                  <button type="button" onClick={() => setOpen(open === v.number ? null : v.number)}>
                    {open === v.number ? "Hide changes" : "Changes"}
                  </button>
                )}
                {v.number !== current && (
                  <button
                    type="button"
                    disabled={editReason !== null}
                    title={editReason ?? "Save this version's content as a new version"}
                    onClick={() => restore(v.number)}
                  >
                    Restore
                  </button>
                )}
              </div>
              {v.number === 1 && <small className="fy-hint">First version</small>}
              {open === v.number && <VersionChanges workflowId={workflow.id} number={v.number} />}
            </li>
          ))}
        </ol>
      )}
    </aside>
  );
}

export function ShareDialog({
  workflow,
  onChanged,
  onClose,
}: {
  workflow: WorkflowDetail;
  onChanged(patch: Partial<WorkflowDetail>): void;
  onClose(): void;
}) {
  const [error, setError] = useState<string | null>(null);
  const [copied, setCopied] = useState(false);
  const reason = workflowEditReason(workflow.permissions);
  const path = publicPagePath(workflow.public_url);
  const link = path ? window.location.origin + path : null;
  const share = (body: { visibility?: "private" | "team"; public?: boolean }) => {
    setError(null);
    workflowExtras.share(workflow.id, body).then(
      (r) => onChanged({ visibility: r.visibility, public_url: r.public_url }),
      (exc: unknown) => setError(errorMessage(exc)),
    );
  };
  return (
    <div className="fy-modal-backdrop" onKeyDown={(e) => e.key === "Escape" && onClose()}>
      <div className="fy-modal fy-form" role="dialog" aria-label="Share workflow">
        <h2>Share “{workflow.name}”</h2>
        {reason && <p className="fy-hint">{reason}</p>}
        <label>
          Who in the workspace sees it
          <select
            aria-label="Visibility"
            value={workflow.visibility}
            disabled={reason !== null}
            onChange={(e) => share({ visibility: e.target.value === "private" ? "private" : "team" })}
          >
            <option value="team">Team: every member of the workspace</option>
            <option value="private">Private: me and the workspace's owner and admins</option>
          </select>
        </label>
        <div>
          <strong>Public link</strong>
          <p className="fy-hint">Anyone with the link can view the latest version, read-only, without signing in.</p>
          {link ? (
            <p className="fy-actions">
              <a href={path ?? "#"} target="_blank" rel="noreferrer" data-testid="public-link">
                {link}
              </a>
              <button type="button" onClick={() => void copyText(link).then(setCopied)}>
                {copied ? "Copied" : "Copy"}
              </button>
              <button type="button" disabled={reason !== null} onClick={() => share({ public: false })}>
                Revoke link
              </button>
            </p>
          ) : (
            <button type="button" disabled={reason !== null} onClick={() => share({ public: true })}>
              Create public link
            </button>
          )}
        </div>
        {error && (
          <p className="fy-form-error" role="alert">
            {error}
          </p>
        )}
        <p className="fy-actions">
          <button type="button" onClick={onClose}>
            Done
          </button>
        </p>
      </div>
    </div>
  );
}

export function ForkDialog({ workflow, onClose }: { workflow: WorkflowDetail; onClose(): void }) {
  const navigate = useNavigate();
  const spaces = useAsync(() => workspaces.list(), []);
  const [error, setError] = useState<string | null>(null);
  const submit = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const data = new FormData(e.currentTarget);
    const name = String(data.get("name") ?? "").trim();
    workflowExtras.fork(workflow.id, Number(data.get("workspace")), name || undefined).then(
      (fork) => {
        onClose();
        navigate(`/workflows/${fork.id}`);
      },
      (exc: unknown) => setError(errorMessage(exc)),
    );
  };
  const targets = spaces.status === "ready" ? editableWorkspaces(spaces.data) : [];
  return (
    <div className="fy-modal-backdrop" onKeyDown={(e) => e.key === "Escape" && onClose()}>
      <form className="fy-modal fy-form" onSubmit={submit} aria-label="Fork workflow">
        <h2>Fork “{workflow.name}”</h2>
        <p className="fy-hint">A copy of the latest saved version in a workspace where you may edit.</p>
        {spaces.status === "loading" && <p className="fy-hint">Loading your workspaces…</p>}
        {spaces.status === "ready" && !targets.length && <p className="fy-form-error">You may edit in no workspace.</p>}
        <label>
          Into workspace
          <select name="workspace" required>
            {targets.map((s) => (
              <option key={s.id} value={s.id}>
                {s.kind === "personal" ? "Personal" : s.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Name
          <input name="name" defaultValue={`${workflow.name} (fork)`} />
        </label>
        {error && (
          <p className="fy-form-error" role="alert">
            {error}
          </p>
        )}
        <p className="fy-actions">
          <button type="submit" disabled={!targets.length}>
            Fork
          </button>
          <button type="button" onClick={onClose}>
            Cancel
          </button>
        </p>
      </form>
    </div>
  );
}

/** A workflow document from an exported file: `{graph, layout}`, a version with its document, or a bare graph. */
export function parseImportedDocument(text: string) {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new Error("The file is not JSON.");
  }
  const doc = workflowDocumentSchema.safeParse(data);
  if (doc.success) return doc.data;
  const bare = graphSchema.safeParse(data);
  if (bare.success) return { graph: bare.data };
  throw new Error("The file holds no Flowyard workflow (expected {graph, layout} or a graph with nodes).");
}

export function ImportExport({ name, canImport = true }: { name: string; canImport?: boolean }) {
  const store = useEditorStoreApi();
  const input = useRef<HTMLInputElement>(null);
  const exportFile = () => {
    const s = store.getState();
    const doc = toDocument(s.graphToSave(), s.catalog);
    const blob = new Blob([JSON.stringify(doc, null, 2)], { type: "application/json" });
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = `${name.replace(/[^\w.-]+/g, "_") || "workflow"}.json`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  };
  const importFile = (e: ChangeEvent<HTMLInputElement>) => {
    const file = e.target.files?.[0];
    e.target.value = "";
    if (!file) return;
    void file.text().then((text) => {
      const s = store.getState();
      try {
        const doc = parseImportedDocument(text);
        const graph = fromDocument(doc, s.catalog);
        s.change(() => graph);
        s.notify(
          "info",
          `Imported ${Object.keys(graph.nodes).length} nodes from ${file.name}. Save to keep them (Ctrl+Z undoes).`,
        );
      } catch (exc) {
        s.notify("error", `Could not import ${file.name}: ${errorMessage(exc)}`);
      }
    });
  };
  return (
    <>
      <button type="button" onClick={exportFile} title="Download the workflow as a JSON file">
        Export
      </button>
      {canImport && (
        <>
          <button
            type="button"
            onClick={() => input.current?.click()}
            title="Replace the canvas with a workflow JSON file"
          >
            Import
          </button>
          <input
            ref={input}
            type="file"
            accept="application/json,.json"
            hidden
            onChange={importFile}
            aria-label="Import workflow file"
          />
        </>
      )}
    </>
  );
}

/** The version's document loaded into the editor store (after a restore). */
export function useLoadVersion() {
  const store = useEditorStoreApi();
  return (version: VersionDetail) => {
    const doc = documentOf({ version });
    if (!doc) return;
    const s = store.getState();
    s.load(fromDocument(doc, s.catalog));
  };
}
