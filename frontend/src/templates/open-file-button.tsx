// "Open file" (home page): any graph file opens in a new, unsaved editor. Flowyard documents and graphs are
// checked and laid out by the server (`POST /api/workflows/open`); ComfyUI workflows and API prompts go
// through the ComfyUI import, their notes and reroutes kept.
import { comfyApi } from "../comfy/comfy-api";
import { OpenGraphFileButton, withCanvasItems, type GraphFilePicker } from "../comfy/comfy-controls";
import { parseComfyFile } from "../comfy/comfy-import";
import { flowyardDocument, graphFileKind } from "./open-file";
import { templatesApi } from "./templates-api";

const OPEN_FILE: GraphFilePicker = {
  label: "Open file",
  busyLabel: "Opening…",
  title:
    "Open a graph file in a new, unsaved workflow: a Flowyard workflow or graph (.json, e.g. examples/), or a ComfyUI workflow (UI or API format)",
  inputLabel: "Graph file to open",
  verb: "open",
  convert: async (text, fileName) => {
    const data = parseComfyFile(text, fileName) as Record<string, unknown>;
    if (graphFileKind(data) !== "comfy") return templatesApi.open(flowyardDocument(data));
    return withCanvasItems(await comfyApi.importWorkflow(data), data);
  },
};

export function OpenFileButton({ className }: { className?: string }) {
  return <OpenGraphFileButton picker={OPEN_FILE} {...(className ? { className } : {})} />;
}
