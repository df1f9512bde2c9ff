// Which kind of graph file a person picked: a Flowyard document or graph, or a ComfyUI workflow or API prompt.
export type GraphFileKind = "flowyard-document" | "flowyard-graph" | "comfy";

function isObject(value: unknown): value is Record<string, unknown> {
  return !!value && typeof value === "object" && !Array.isArray(value);
}

/** Flowyard's own shapes are `{graph, layout?}` and `{nodes: {id: {type, inputs}}}`; anything else goes to the
 * ComfyUI import (UI format has `nodes` as a list, API format is `{id: {class_type, inputs}}`). */
export function graphFileKind(data: unknown): GraphFileKind {
  if (isObject(data) && isObject(data.graph)) return "flowyard-document";
  if (isObject(data) && isObject(data.nodes)) {
    const nodes = Object.values(data.nodes);
    if (nodes.every((n) => isObject(n) && typeof n.type === "string")) return "flowyard-graph";
  }
  return "comfy";
}

/** What the open endpoint takes for a Flowyard file. */
export function flowyardDocument(data: Record<string, unknown>): { graph: unknown; layout?: unknown } {
  if (graphFileKind(data) === "flowyard-document") {
    return data.layout === undefined ? { graph: data.graph } : { graph: data.graph, layout: data.layout };
  }
  return { graph: data };
}
