// What a ComfyUI import did, in terms a person can act on: which nodes are missing (unknown types, kept in the
// graph as red placeholders), which were dropped (notes), which were changed, plus the history-state handoff that
// opens the result in a new, unsaved editor.
import type { WorkflowDocument } from "../api/schemas";
import type { ComfyImport } from "./comfy-api";

export type WarningKind = "missing" | "dropped" | "changed" | "general";

export interface ImportItem {
  node: string | null;
  /** The node's title in the imported layout, else its type, else "node <id>". */
  label: string;
  kind: WarningKind;
  message: string;
}

export interface ImportSummary {
  fileName: string;
  nodeCount: number;
  /** Unknown node types with the ids that use them, most used first. */
  missingTypes: { type: string; nodes: string[] }[];
  items: ImportItem[];
  headline: string;
}

/** Parse a dropped or picked file; throws an Error whose message says what is wrong. */
export function parseComfyFile(text: string, fileName: string): unknown {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new Error(`${fileName} is not JSON. Export the workflow from ComfyUI with "Save" or "Export (API)".`);
  }
  if (!data || typeof data !== "object" || Array.isArray(data)) {
    throw new Error(`${fileName} does not hold a ComfyUI workflow (expected a JSON object).`);
  }
  return data;
}

function typeOfMissing(raw: unknown): string | null {
  if (raw && typeof raw === "object") {
    const r = raw as { type?: unknown; class_type?: unknown };
    if (typeof r.type === "string") return r.type;
    if (typeof r.class_type === "string") return r.class_type;
  }
  return null;
}

export function summarizeImport(result: ComfyImport, fileName: string): ImportSummary {
  const { graph, layout } = result.document;
  const byType = new Map<string, string[]>();
  for (const [id, raw] of Object.entries(result.missing)) {
    const type = typeOfMissing(raw) ?? graph.nodes[id]?.type ?? "unknown";
    byType.set(type, [...(byType.get(type) ?? []), id]);
  }
  const missingTypes = [...byType.entries()]
    .map(([type, nodes]) => ({ type, nodes }))
    .sort((a, b) => b.nodes.length - a.nodes.length || a.type.localeCompare(b.type));
  const items: ImportItem[] = result.warnings.map((w) => {
    const node = w.node;
    const inGraph = node !== null && node in graph.nodes;
    const kind: WarningKind =
      node === null ? "general" : node in result.missing ? "missing" : inGraph ? "changed" : "dropped";
    // Nodes inside a subgraph are named "<subgraph name> › <node id>" by the server.
    const label =
      node === null
        ? "workflow"
        : (layout?.nodes[node]?.title ?? graph.nodes[node]?.type ?? (node.includes(" › ") ? node : `node ${node}`));
    return { node, label, kind, message: w.message };
  });
  // Missing nodes the server did not warn about still get a line.
  for (const [id] of Object.entries(result.missing)) {
    if (!items.some((i) => i.node === id)) {
      items.push({
        node: id,
        label: graph.nodes[id]?.type ?? `node ${id}`,
        kind: "missing",
        message: "Unknown node type: kept as a missing node.",
      });
    }
  }
  const order: Record<WarningKind, number> = { missing: 0, changed: 1, dropped: 2, general: 3 };
  items.sort((a, b) => order[a.kind] - order[b.kind]);
  const nodeCount = Object.keys(graph.nodes).length;
  const missingCount = Object.keys(result.missing).length;
  const dropped = items.filter((i) => i.kind === "dropped").length;
  const parts = [`Imported ${nodeCount} node${nodeCount === 1 ? "" : "s"} from ${fileName}`];
  if (missingCount) {
    parts.push(
      `${missingCount} of unknown type${missingTypes.length ? ` (${missingTypes.map((t) => t.type).join(", ")})` : ""}, shown in red`,
    );
  }
  if (dropped) parts.push(`${dropped} dropped`);
  const subgraphs = Object.keys(graph.subgraphs ?? {}).length;
  if (subgraphs) parts.push(`${subgraphs} subgraph${subgraphs === 1 ? "" : "s"} (double-click one to open it)`);
  return { fileName, nodeCount, missingTypes, items, headline: parts.join("; ") + "." };
}

/** The router state that opens an import in `/workflows/new`; `key` makes a second import load again. */
export interface ComfyImportState {
  comfyImport: { key: string; document: WorkflowDocument; summary: ImportSummary };
}

export function readImportState(state: unknown): ComfyImportState["comfyImport"] | null {
  if (!state || typeof state !== "object" || !("comfyImport" in state)) return null;
  const value = (state as { comfyImport: unknown }).comfyImport;
  if (!value || typeof value !== "object") return null;
  const v = value as Partial<ComfyImportState["comfyImport"]>;
  return typeof v.key === "string" && v.document && v.summary ? (v as ComfyImportState["comfyImport"]) : null;
}

/** A file name for the exported prompt. */
export function exportFileName(name: string, version: number | null): string {
  const base = name.replace(/[^\w.-]+/g, "_").replace(/^_+|_+$/g, "") || "workflow";
  return `${base}${version !== null ? `-v${version}` : ""}.api.json`;
}
