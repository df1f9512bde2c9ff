// "Import ComfyUI workflow" (home and editor), the editor's notice of what the import changed, "Export as ComfyUI
// workflow" (the canvas, notes and reroutes included) and "Export as ComfyUI API prompt".
import { useRef, useState, type ChangeEvent } from "react";
import { Link, useLocation, useNavigate } from "react-router";
import { errorMessage } from "../api/client";
import { useEditorStoreApi } from "../editor/store-context";
import { comfyApi, type ComfyImport } from "./comfy-api";
import { canvasItemsFromComfy, toComfyWorkflow, workflowFileName } from "./comfy-workflow";
import {
  exportFileName,
  parseComfyFile,
  readImportState,
  summarizeImport,
  type ComfyImportState,
} from "./comfy-import";
import "./comfy.css";

/** What a file picker says and does: the file's text is converted (on the server) into a document to open. */
export interface GraphFilePicker {
  label: string;
  busyLabel: string;
  title: string;
  inputLabel: string;
  /** The verb of the error line: "Could not <verb> <file>: <reason>". */
  verb: string;
  convert: (text: string, fileName: string) => Promise<ComfyImport>;
}

/** A button that picks a JSON file, converts it and opens the result in a new unsaved editor, with what the
 * conversion changed (`ComfyImportNotice`); a failure is shown beside the button. */
export function OpenGraphFileButton({
  picker,
  confirmLeave,
  className,
  errorClassName = "fy-form-error",
}: {
  picker: GraphFilePicker;
  confirmLeave?: () => boolean;
  className?: string;
  errorClassName?: string;
}) {
  const input = useRef<HTMLInputElement>(null);
  const navigate = useNavigate();
  const [state, setState] = useState<{ busy: boolean; error: string | null }>({ busy: false, error: null });
  const pick = (e: ChangeEvent<HTMLInputElement>) => {
    const file = e.target.files?.[0];
    e.target.value = "";
    if (!file) return;
    setState({ busy: true, error: null });
    file
      .text()
      .then((text) => picker.convert(text, file.name))
      .then(
        (result) => {
          setState({ busy: false, error: null });
          const handoff: ComfyImportState = {
            comfyImport: {
              key: `${Date.now()}-${file.name}`,
              document: result.document,
              summary: summarizeImport(result, file.name),
            },
          };
          navigate("/workflows/new", { state: handoff });
        },
        (exc: unknown) =>
          setState({ busy: false, error: `Could not ${picker.verb} ${file.name}: ${errorMessage(exc)}` }),
      );
  };
  return (
    <>
      <button
        type="button"
        className={className}
        disabled={state.busy}
        title={picker.title}
        onClick={() => {
          if (!confirmLeave || confirmLeave()) input.current?.click();
        }}
      >
        {state.busy ? picker.busyLabel : picker.label}
      </button>
      <input
        ref={input}
        type="file"
        accept="application/json,.json"
        hidden
        onChange={pick}
        aria-label={picker.inputLabel}
      />
      {state.error && (
        <span className={errorClassName} role="alert">
          {state.error}{" "}
          <button type="button" onClick={() => setState({ busy: false, error: null })} aria-label="Dismiss">
            ×
          </button>
        </span>
      )}
    </>
  );
}

const COMFY_IMPORT: GraphFilePicker = {
  label: "Import ComfyUI workflow",
  busyLabel: "Importing…",
  title: "Open a ComfyUI workflow (.json, UI or API format) in a new, unsaved workflow",
  inputLabel: "ComfyUI workflow file",
  verb: "import",
  convert: (text, fileName) => {
    const data = parseComfyFile(text, fileName);
    return comfyApi.importWorkflow(data).then((result) => withCanvasItems(result, data));
  },
};

/** Pick a ComfyUI file, convert it on the server, open the result in a new unsaved editor. */
export function ImportComfyButton({ confirmLeave, className }: { confirmLeave?: () => boolean; className?: string }) {
  return (
    <OpenGraphFileButton
      picker={COMFY_IMPORT}
      className={className}
      errorClassName="fy-form-error fy-comfy-error"
      {...(confirmLeave ? { confirmLeave } : {})}
    />
  );
}

/**
 * The server's import plus the file's notes and reroutes (kept in the layout): the server drops notes with a
 * warning and follows links through reroutes, so those warnings go once the notes are kept.
 */
export function withCanvasItems(result: ComfyImport, data: unknown): ComfyImport {
  const { notes, reroutes } = canvasItemsFromComfy(data);
  if (!notes.length && !reroutes.length) return result;
  const kept = new Set(notes.map((n) => n.id.slice(1)));
  const layout = {
    nodes: {},
    groups: [],
    ...result.document.layout,
    ...(notes.length ? { notes } : {}),
    ...(reroutes.length ? { reroutes } : {}),
  };
  return {
    ...result,
    document: { ...result.document, layout },
    warnings: result.warnings.filter((w) => !(w.node !== null && kept.has(w.node) && /Note dropped/.test(w.message))),
  };
}

/** File menu: the editor's current graph (unsaved changes included) as a ComfyUI workflow, notes and reroutes too. */
export function ExportComfyWorkflowButton({ name }: { name: string }) {
  const store = useEditorStoreApi();
  const run = () => {
    const s = store.getState();
    const workflow = toComfyWorkflow(s.graphToSave(), s.catalog);
    const blob = new Blob([JSON.stringify(workflow, null, 2)], { type: "application/json" });
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = workflowFileName(name);
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  };
  return (
    <button
      type="button"
      onClick={run}
      title="Download the canvas as a ComfyUI workflow (UI format, with notes and reroutes) that ComfyUI opens"
    >
      Export as ComfyUI workflow
    </button>
  );
}

/** In the editor after an import: the headline, missing node types and each warning; dismissible. */
export function ComfyImportNotice() {
  const location = useLocation();
  const imported = readImportState(location.state);
  const [dismissed, setDismissed] = useState<string | null>(null);
  if (!imported || dismissed === imported.key) return null;
  const { summary } = imported;
  return (
    <aside className="fy-comfy-notice" aria-label="Import notes" role="status">
      <header>
        <strong>{summary.headline}</strong>
        <span className="fy-spacer" />
        <button type="button" onClick={() => setDismissed(imported.key)} aria-label="Dismiss import notes">
          ×
        </button>
      </header>
      <p className="fy-hint">Not saved yet: press Save to keep it as a new workflow.</p>
      {summary.missingTypes.length > 0 && (
        <p>
          Missing node types:{" "}
          {summary.missingTypes.map((t, i) => (
            <span key={t.type}>
              {i > 0 && ", "}
              <Link to={`/packs?node_type=${encodeURIComponent(t.type)}`}>
                <code>{t.type}</code>
              </Link>
              {t.nodes.length > 1 ? ` ×${t.nodes.length}` : ""}
            </span>
          ))}
          . They stay in the graph, saved unchanged, but the workflow cannot run until a pack provides them.
        </p>
      )}
      {summary.items.length > 0 && (
        <ul>
          {summary.items.map((item, i) => (
            <li key={i} className={`fy-comfy-${item.kind}`}>
              <span className="fy-comfy-kind">{item.kind}</span> {item.node !== null && <code>#{item.node}</code>}{" "}
              {item.label !== item.node ? item.label : ""}: {item.message}
            </li>
          ))}
        </ul>
      )}
    </aside>
  );
}

/** Download the saved version as a ComfyUI API-format prompt (`GET /api/workflows/<id>/export/comfy`). */
export function ExportComfyButton({
  workflowId,
  name,
  version,
  onError,
}: {
  workflowId: number;
  name: string;
  version: number | null;
  onError(message: string): void;
}) {
  const [busy, setBusy] = useState(false);
  const run = () => {
    setBusy(true);
    comfyApi.exportPrompt(workflowId, version).then(
      (prompt) => {
        const blob = new Blob([JSON.stringify(prompt, null, 2)], { type: "application/json" });
        const a = document.createElement("a");
        a.href = URL.createObjectURL(blob);
        a.download = exportFileName(name, version);
        a.click();
        setTimeout(() => URL.revokeObjectURL(a.href), 1000);
        setBusy(false);
      },
      (exc: unknown) => {
        onError(`Could not export: ${errorMessage(exc)}`);
        setBusy(false);
      },
    );
  };
  return (
    <button
      type="button"
      onClick={run}
      disabled={busy || version === null}
      title={`Download ${version === null ? "the saved version" : `version ${version}`} as a ComfyUI API prompt (unsaved changes are not included; muted and bypassed nodes are left out)`}
    >
      Export as ComfyUI API prompt
    </button>
  );
}
