// "Open file" (home page): any graph file opens in a new, unsaved editor. Flowyard documents and graphs are
// checked and laid out by the server (`POST /api/workflows/open`); ComfyUI workflows and API prompts go
// through the ComfyUI import, their notes and reroutes kept.
import { useRef, useState, type ChangeEvent } from "react";
import { useNavigate } from "react-router";
import { errorMessage } from "../api/client";
import { comfyApi, type ComfyImport } from "../comfy/comfy-api";
import { parseComfyFile, summarizeImport, type ComfyImportState } from "../comfy/comfy-import";
import { canvasItemsFromComfy } from "../comfy/comfy-workflow";
import { flowyardDocument, graphFileKind } from "./open-file";
import { templatesApi } from "./templates-api";

async function openText(text: string, fileName: string): Promise<ComfyImport> {
  const data = parseComfyFile(text, fileName) as Record<string, unknown>;
  if (graphFileKind(data) !== "comfy") return templatesApi.open(flowyardDocument(data));
  const result = await comfyApi.importWorkflow(data);
  const { notes, reroutes } = canvasItemsFromComfy(data);
  if (!notes.length && !reroutes.length) return result;
  const kept = new Set(notes.map((n) => n.id.slice(1)));
  return {
    ...result,
    document: {
      ...result.document,
      layout: { nodes: {}, groups: [], ...result.document.layout, notes, reroutes },
    },
    warnings: result.warnings.filter((w) => !(w.node !== null && kept.has(w.node) && /Note dropped/.test(w.message))),
  };
}

export function OpenFileButton({ className }: { className?: string }) {
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
      .then((text) => openText(text, file.name))
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
        (exc: unknown) => setState({ busy: false, error: `Could not open ${file.name}: ${errorMessage(exc)}` }),
      );
  };
  return (
    <>
      <button
        type="button"
        className={className}
        disabled={state.busy}
        title="Open a graph file in a new, unsaved workflow: a Flowyard workflow or graph (.json, e.g. examples/), or a ComfyUI workflow (UI or API format)"
        onClick={() => input.current?.click()}
      >
        {state.busy ? "Opening…" : "Open file"}
      </button>
      <input
        ref={input}
        type="file"
        accept="application/json,.json"
        hidden
        onChange={pick}
        aria-label="Graph file to open"
      />
      {state.error && (
        <span className="fy-form-error" role="alert">
          {state.error}{" "}
          <button type="button" onClick={() => setState({ busy: false, error: null })} aria-label="Dismiss">
            ×
          </button>
        </span>
      )}
    </>
  );
}
