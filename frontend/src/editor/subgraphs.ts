// Subgraphs in the editor (docs/architecture.md, graph format): definitions live on the root graph, an instance
// is a node of type `subgraph:<id>` whose sockets are the definition's inputs and outputs. Opening one shows its
// inside as an ordinary graph with two boundary nodes ("@in" feeds the inputs' targets, "@out" takes the
// outputs' sources), so every editing operation works there unchanged; closing writes it back to the definition
// (every instance changes). All functions are pure.
import type { InputSpec, NodeSchema } from "../api/schemas";
import {
  makeEdge,
  nextNodeId,
  type Catalog,
  type EditorGraph,
  type EditorNode,
  type IdSpace,
  type Position,
} from "./graph-model";

export const INSTANCE_PREFIX = "subgraph:";
export const INPUTS_NODE = "@in";
export const OUTPUTS_NODE = "@out";
const INPUTS_TYPE = "subgraph-inputs:";
const OUTPUTS_TYPE = "subgraph-outputs:";

export interface SubgraphInputDef {
  name: string;
  type: string;
  /** The inner `[node, input]` pairs it feeds; each keeps its own value for when the instance leaves it open. */
  targets: [string, string][];
  label?: string;
}

export interface SubgraphOutputDef {
  name: string;
  type: string;
  /** The inner link feeding it, a passed-through input, or nothing. */
  source: [string, number] | { input: string } | null;
}

export interface EditorSubgraph {
  name: string;
  inputs: SubgraphInputDef[];
  outputs: SubgraphOutputDef[];
  /** The inside, without boundary nodes. */
  graph: EditorGraph;
}

export function subgraphIdOf(type: string): string | null {
  return type.startsWith(INSTANCE_PREFIX) ? type.slice(INSTANCE_PREFIX.length) : null;
}

function socketInput(name: string, type: string): InputSpec {
  return { name, type, required: false, mode: "socket", has_default: false, tooltip: "", widget: null };
}

function schema(
  type: string,
  display: string,
  inputs: InputSpec[],
  outputs: { name: string; type: string }[],
): NodeSchema {
  return {
    type,
    display_name: display,
    category: "subgraphs",
    description: "",
    version: "1",
    output_node: false,
    non_deterministic: false,
    requires_gpu: false,
    memory_mb: 0,
    inputs,
    outputs: outputs.map((o) => ({ name: o.name, type: o.type, tooltip: "" })),
  };
}

/** The catalog plus a schema per definition's instance and its two boundary nodes. */
export function withSubgraphCatalog(catalog: Catalog, subgraphs: Record<string, EditorSubgraph> | undefined): Catalog {
  if (!subgraphs || !Object.keys(subgraphs).length) return catalog;
  const map = new Map(catalog);
  for (const [id, def] of Object.entries(subgraphs)) {
    const ins = def.inputs.map((i) => socketInput(i.name, i.type));
    map.set(INSTANCE_PREFIX + id, schema(INSTANCE_PREFIX + id, def.name, ins, def.outputs));
    map.set(INPUTS_TYPE + id, schema(INPUTS_TYPE + id, "Inputs", [], def.inputs));
    map.set(
      OUTPUTS_TYPE + id,
      schema(
        OUTPUTS_TYPE + id,
        "Outputs",
        def.outputs.map((o) => socketInput(o.name, o.type)),
        [],
      ),
    );
  }
  return map;
}

function bounds(graph: EditorGraph): { minX: number; minY: number; maxX: number } {
  const nodes = Object.values(graph.nodes);
  if (!nodes.length) return { minX: 0, minY: 0, maxX: 400 };
  return {
    minX: Math.min(...nodes.map((n) => n.position.x)),
    minY: Math.min(...nodes.map((n) => n.position.y)),
    maxX: Math.max(...nodes.map((n) => n.position.x + (n.width ?? 300))),
  };
}

/** The inside of definition `id` as a graph to edit, with "@in"/"@out" boundary nodes linked to its nodes. */
export function openView(subgraphs: Record<string, EditorSubgraph>, id: string, catalog: Catalog): EditorGraph {
  const def = subgraphs[id];
  if (!def) throw new Error(`No subgraph ${id}.`);
  const inner = def.graph;
  const box = bounds(inner);
  const boundary = (nodeId: string, type: string, position: Position): EditorNode => ({
    id: nodeId,
    type,
    position,
    values: {},
    sockets: [],
    mode: "normal",
  });
  const nodes: Record<string, EditorNode> = {
    ...inner.nodes,
    [INPUTS_NODE]: boundary(INPUTS_NODE, INPUTS_TYPE + id, { x: box.minX - 260, y: box.minY }),
    [OUTPUTS_NODE]: boundary(OUTPUTS_NODE, OUTPUTS_TYPE + id, { x: box.maxX + 80, y: box.minY }),
  };
  const edges = [...inner.edges];
  def.inputs.forEach((input, index) => {
    for (const [node, name] of input.targets) {
      const target = nodes[node];
      if (!target) continue;
      edges.push(makeEdge(INPUTS_NODE, index, node, name));
      // An input that is a widget shows as a socket while the boundary feeds it; its value stays the fallback.
      const spec = catalog.get(target.type)?.inputs.find((i) => i.name === name);
      if (spec?.mode === "both" && !target.sockets.includes(name))
        nodes[node] = { ...target, sockets: [...target.sockets, name] };
    }
  });
  for (const output of def.outputs) {
    const source = output.source;
    if (Array.isArray(source)) edges.push(makeEdge(source[0], source[1], OUTPUTS_NODE, output.name));
    else if (source) {
      const index = def.inputs.findIndex((i) => i.name === source.input);
      if (index >= 0) edges.push(makeEdge(INPUTS_NODE, index, OUTPUTS_NODE, output.name));
    }
  }
  return { nodes, edges, groups: inner.groups, subgraphs };
}

/** Write an edited view back: the definition's inside, targets and sources as the boundary links now are. */
export function closeView(view: EditorGraph, id: string): Record<string, EditorSubgraph> {
  const subgraphs = view.subgraphs ?? {};
  const def = subgraphs[id];
  if (!def) throw new Error(`No subgraph ${id}.`);
  const nodes = { ...view.nodes };
  delete nodes[INPUTS_NODE];
  delete nodes[OUTPUTS_NODE];
  const boundary = (e: { source: string; target: string }) =>
    e.source === INPUTS_NODE || e.source === OUTPUTS_NODE || e.target === INPUTS_NODE || e.target === OUTPUTS_NODE;
  const inputs = def.inputs.map((input, index) => ({
    ...input,
    targets: view.edges
      .filter((e) => e.source === INPUTS_NODE && e.sourceOutput === index && e.target !== OUTPUTS_NODE)
      .map((e): [string, string] => [e.target, e.targetInput]),
  }));
  const outputs = def.outputs.map((output): SubgraphOutputDef => {
    const edge = view.edges.find((e) => e.target === OUTPUTS_NODE && e.targetInput === output.name);
    if (!edge) return { ...output, source: null };
    if (edge.source === INPUTS_NODE) return { ...output, source: { input: def.inputs[edge.sourceOutput]?.name ?? "" } };
    return { ...output, source: [edge.source, edge.sourceOutput] };
  });
  const graph: EditorGraph = { nodes, edges: view.edges.filter((e) => !boundary(e)), groups: view.groups };
  return { ...subgraphs, [id]: { ...def, inputs, outputs, graph } };
}

function uniqueName(name: string, taken: Set<string>): string {
  let candidate = name || "value";
  for (let n = 2; taken.has(candidate); n += 1) candidate = `${name}_${n}`;
  taken.add(candidate);
  return candidate;
}

/**
 * Replace nodes `ids` by an instance of a new definition holding them. Links entering the selection become its
 * inputs (one per source output), links leaving it its outputs (one per inner output); the instance takes the
 * selection's place and its links.
 */
export function convertToSubgraph(
  graph: EditorGraph,
  catalog: Catalog,
  ids: readonly string[],
  options: { id?: string; name?: string; space?: IdSpace } = {},
): { graph: EditorGraph; id: string; instance: string } | null {
  const inside = new Set(ids.filter((id) => id in graph.nodes));
  if (!inside.size) return null;
  const id = options.id ?? `sg-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  const instance = nextNodeId(graph, [], options.space);
  const inputs: SubgraphInputDef[] = [];
  const outputs: SubgraphOutputDef[] = [];
  const inputNames = new Set<string>();
  const outputNames = new Set<string>();
  const bySource = new Map<string, number>();
  const byInner = new Map<string, number>();
  const outerEdges = [];
  for (const e of graph.edges) {
    const from = inside.has(e.source);
    const to = inside.has(e.target);
    if (from === to) {
      if (!from) outerEdges.push(e);
      continue;
    }
    if (to) {
      const key = `${e.source}:${e.sourceOutput}`;
      let index = bySource.get(key);
      if (index === undefined) {
        const type =
          catalog.get(graph.nodes[e.target]!.type)?.inputs.find((i) => i.name === e.targetInput)?.type ??
          catalog.get(graph.nodes[e.source]?.type ?? "")?.outputs[e.sourceOutput]?.type ??
          "*";
        index = inputs.push({ name: uniqueName(e.targetInput, inputNames), type, targets: [] }) - 1;
        bySource.set(key, index);
        outerEdges.push(makeEdge(e.source, e.sourceOutput, instance, inputs[index]!.name));
      }
      inputs[index]!.targets.push([e.target, e.targetInput]);
    } else {
      const key = `${e.source}:${e.sourceOutput}`;
      let index = byInner.get(key);
      if (index === undefined) {
        const out = catalog.get(graph.nodes[e.source]!.type)?.outputs[e.sourceOutput];
        index =
          outputs.push({
            name: uniqueName(out?.name ?? "output", outputNames),
            type: out?.type ?? "*",
            source: [e.source, e.sourceOutput],
          }) - 1;
        byInner.set(key, index);
      }
      outerEdges.push(makeEdge(instance, index, e.target, e.targetInput));
    }
  }
  const innerNodes: Record<string, EditorNode> = {};
  const outerNodes: Record<string, EditorNode> = {};
  for (const [nodeId, node] of Object.entries(graph.nodes))
    (inside.has(nodeId) ? innerNodes : outerNodes)[nodeId] = node;
  const innerGraph: EditorGraph = {
    nodes: innerNodes,
    edges: graph.edges.filter((e) => inside.has(e.source) && inside.has(e.target)),
    groups: [],
  };
  const box = bounds(innerGraph);
  outerNodes[instance] = {
    id: instance,
    type: INSTANCE_PREFIX + id,
    position: { x: box.minX, y: box.minY },
    values: {},
    sockets: [],
    mode: "normal",
  };
  const name = options.name ?? `Subgraph ${Object.keys(graph.subgraphs ?? {}).length + 1}`;
  const subgraphs = { ...graph.subgraphs, [id]: { name, inputs, outputs, graph: innerGraph } };
  const outputsList = graph.outputs?.filter((o) => !inside.has(o));
  return {
    graph: {
      ...graph,
      nodes: outerNodes,
      edges: outerEdges,
      subgraphs,
      ...(outputsList ? { outputs: outputsList } : {}),
    },
    id,
    instance,
  };
}

/** Where the editor is inside nested subgraphs: the instance opened at each level and the graph around it. */
export interface SubgraphFrame {
  id: string;
  instance: string;
  parent: EditorGraph;
}

/** The root graph with every open level written back (what to save or run). */
export function foldFrames(view: EditorGraph, frames: readonly SubgraphFrame[]): EditorGraph {
  let graph = view;
  for (let i = frames.length - 1; i >= 0; i -= 1) {
    const frame = frames[i]!;
    graph = { ...frame.parent, subgraphs: closeView(graph, frame.id) };
  }
  return graph;
}

/** The run state an instance shows: the worst (failed, running) or else the least finished of its inner nodes. */
export function instanceStatus<T extends { status: string }>(
  nodes: Record<string, T>,
  instance: string,
): string | null {
  const prefix = `${instance}:`;
  const inner = Object.entries(nodes)
    .filter(([id]) => id.startsWith(prefix))
    .map(([, n]) => n.status);
  if (!inner.length) return null;
  for (const status of ["failed", "running", "cancelled", "queued"]) if (inner.includes(status)) return status;
  return inner.every((s) => s === "cached") ? "cached" : "succeeded";
}
