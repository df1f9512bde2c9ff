// ComfyUI's UI-format workflow files on the browser side: the notes and reroutes of an imported file (the server's
// import keeps the graph and follows links through reroutes; the canvas items are taken from the file here), and
// the export of the editor's graph as a UI-format workflow with its notes (Note / MarkdownNote) and reroutes.
import type { InputSpec, LayoutNote, LayoutReroute, NodeSchema } from "../api/schemas";
import { routedEdges } from "../editor/canvas-items";
import type { Catalog, EditorGraph } from "../editor/graph-model";

const NOTE_TYPES = new Set(["Note", "MarkdownNote"]);
const MODES: Record<string, number> = { normal: 0, mute: 2, bypass: 4 };

interface UiNode {
  id: number | string;
  type?: string;
  pos?: unknown;
  size?: unknown;
  widgets_values?: unknown;
  inputs?: { name?: string; link?: number | null }[];
  outputs?: { links?: number[] | null }[];
}

function pair(value: unknown): [number, number] | null {
  if (Array.isArray(value) && value.length >= 2 && typeof value[0] === "number" && typeof value[1] === "number")
    return [value[0], value[1]];
  if (value && typeof value === "object" && "0" in value && "1" in value) {
    const v = value as Record<string, unknown>;
    if (typeof v["0"] === "number" && typeof v["1"] === "number") return [v["0"], v["1"]];
  }
  return null;
}

/** link id -> [origin, origin slot, target, target slot] from either link shape ComfyUI writes. */
function linksOf(data: Record<string, unknown>): Map<number, [string, number, string, number]> {
  const links = new Map<number, [string, number, string, number]>();
  for (const link of Array.isArray(data.links) ? data.links : []) {
    if (Array.isArray(link) && link.length >= 5)
      links.set(Number(link[0]), [String(link[1]), Number(link[2]), String(link[3]), Number(link[4])]);
    else if (link && typeof link === "object") {
      const l = link as Record<string, unknown>;
      links.set(Number(l.id), [String(l.origin_id), Number(l.origin_slot), String(l.target_id), Number(l.target_slot)]);
    }
  }
  return links;
}

/** Notes and reroutes of a ComfyUI UI-format workflow (top level), as layout items; empty for an API prompt. */
export function canvasItemsFromComfy(data: unknown): { notes: LayoutNote[]; reroutes: LayoutReroute[] } {
  if (!data || typeof data !== "object" || !Array.isArray((data as { nodes?: unknown }).nodes))
    return { notes: [], reroutes: [] };
  const file = data as Record<string, unknown> & { nodes: UiNode[] };
  const nodes = new Map(file.nodes.filter((n) => n && typeof n === "object").map((n) => [String(n.id), n]));
  const links = linksOf(file);
  const notes: LayoutNote[] = [];
  const reroutes: LayoutReroute[] = [];
  for (const [id, node] of nodes) {
    const pos = pair(node.pos) ?? [0, 0];
    const size = pair(node.size);
    if (node.type && NOTE_TYPES.has(node.type)) {
      const values = Array.isArray(node.widgets_values) ? node.widgets_values : [];
      notes.push({
        id: `n${id}`,
        x: Math.round(pos[0]),
        y: Math.round(pos[1]),
        ...(size ? { width: Math.round(size[0]), height: Math.round(size[1]) } : {}),
        text: typeof values[0] === "string" ? values[0] : "",
        markdown: node.type === "MarkdownNote",
      });
    } else if (node.type === "Reroute") {
      // Where its value comes from, through any reroutes upstream.
      let origin: [string, number] | null = null;
      let link = node.inputs?.[0]?.link;
      for (let hops = 0; link != null && hops < 100; hops += 1) {
        const l = links.get(Number(link));
        if (!l) break;
        const from = nodes.get(l[0]);
        if (from?.type === "Reroute") link = from.inputs?.[0]?.link;
        else {
          origin = [l[0], l[1]];
          break;
        }
      }
      // The inputs it feeds directly (a chain of reroutes is drawn through the last one).
      const targets: [string, string][] = [];
      for (const out of node.outputs?.[0]?.links ?? []) {
        const l = links.get(Number(out));
        const to = l && nodes.get(l[2]);
        if (!l || !to || to.type === "Reroute") continue;
        const name = to.inputs?.[l[3]]?.name;
        if (name) targets.push([l[2], name]);
      }
      if (origin && targets.length)
        reroutes.push({
          id: `r${id}`,
          x: Math.round(pos[0]),
          y: Math.round(pos[1]),
          source: origin[0],
          output: origin[1],
          targets,
        });
    }
  }
  return { notes, reroutes };
}

// ---- export ----

function isWidget(spec: InputSpec): boolean {
  return spec.widget != null && spec.mode !== "socket";
}

function isSeedLike(spec: InputSpec): boolean {
  return spec.type === "INT" && (spec.widget?.kind === "seed" || spec.name === "seed" || spec.name === "noise_seed");
}

/** The inputs ComfyUI lists in widgets_values, in order: required ones, then optional (as the server's import reads them). */
function widgetInputs(schema: NodeSchema): InputSpec[] {
  const widgets = schema.inputs.filter(isWidget);
  const required = (s: InputSpec) => s.required || (s.has_default && s.default != null);
  return [...widgets.filter(required), ...widgets.filter((s) => !required(s))];
}

/**
 * The editor's graph as a ComfyUI UI-format workflow: nodes with positional widgets_values, links, groups, and the
 * canvas items as ComfyUI nodes (notes as Note / MarkdownNote, reroutes as Reroute with their links through them).
 */
export function toComfyWorkflow(graph: EditorGraph, catalog: Catalog): Record<string, unknown> {
  const idOf = new Map<string, number>();
  let last = 0;
  for (const id of Object.keys(graph.nodes)) if (/^\d+$/.test(id)) last = Math.max(last, Number(id));
  for (const id of Object.keys(graph.nodes)) idOf.set(id, /^\d+$/.test(id) ? Number(id) : ++last);
  const rerouteId = new Map((graph.reroutes ?? []).map((r) => [r.id, ++last]));
  const links: [number, number, number, number, number, string][] = [];
  const outLinks = new Map<string, number[]>(); // "<comfy id>:<slot>" -> link ids
  const inLink = new Map<string, number>(); // "<comfy id>:<input name>" -> link id
  const link = (from: number, fromSlot: number, to: number, toKey: string, type: string) => {
    const id = links.length + 1;
    links.push([id, from, fromSlot, to, -1, type]); // the target slot is filled in once the target's inputs are listed
    outLinks.set(`${from}:${fromSlot}`, [...(outLinks.get(`${from}:${fromSlot}`) ?? []), id]);
    inLink.set(`${to}:${toKey}`, id);
    return id;
  };
  const typeOut = (nodeId: string, slot: number) =>
    catalog.get(graph.nodes[nodeId]?.type ?? "")?.outputs[slot]?.type ?? "*";
  const routed = routedEdges(graph);
  const rerouteIn = new Map<string, number>();
  for (const e of graph.edges) {
    const via = routed.get(e.id);
    if (!via) {
      link(idOf.get(e.source)!, e.sourceOutput, idOf.get(e.target)!, e.targetInput, typeOut(e.source, e.sourceOutput));
      continue;
    }
    const rid = rerouteId.get(via.id)!;
    if (!rerouteIn.has(via.id))
      rerouteIn.set(via.id, link(idOf.get(e.source)!, e.sourceOutput, rid, "", typeOut(e.source, e.sourceOutput)));
    link(rid, 0, idOf.get(e.target)!, e.targetInput, typeOut(e.source, e.sourceOutput));
  }
  const slotOf = (linkId: number | undefined, slot: number) => {
    const l = linkId === undefined ? undefined : links[linkId - 1];
    if (l) l[4] = slot;
  };
  const nodes: Record<string, unknown>[] = [];
  let order = 0;
  for (const node of Object.values(graph.nodes)) {
    const id = idOf.get(node.id)!;
    const schema = catalog.get(node.type);
    const inputs: Record<string, unknown>[] = [];
    const linked = new Set(graph.edges.filter((e) => e.target === node.id).map((e) => e.targetInput));
    const specs =
      schema?.inputs ??
      [...linked].map((name) => ({ name, type: "*", widget: null, mode: "socket" }) as unknown as InputSpec);
    for (const spec of specs) {
      const widget = isWidget(spec);
      if (widget && !linked.has(spec.name) && !node.sockets.includes(spec.name)) continue;
      const l = inLink.get(`${id}:${spec.name}`);
      slotOf(l, inputs.length);
      inputs.push({
        name: spec.name,
        type: spec.type,
        link: l ?? null,
        ...(widget ? { widget: { name: spec.name } } : {}),
      });
    }
    const widgetsValues: unknown[] = [];
    if (schema) {
      for (const spec of widgetInputs(schema)) {
        widgetsValues.push(node.values[spec.name] ?? (spec.has_default ? spec.default : null));
        if (isSeedLike(spec))
          widgetsValues.push(
            node.seedControl?.[spec.name] ?? (spec.widget?.kind === "seed" ? spec.widget.control_after_run : "fixed"),
          );
      }
    } else {
      widgetsValues.push(...Object.values(node.values));
    }
    nodes.push({
      id,
      type: node.type,
      pos: [node.position.x, node.position.y],
      size: [node.width ?? 240, node.height ?? 120],
      flags: node.collapsed ? { collapsed: true } : {},
      order: order++,
      mode: MODES[node.mode] ?? 0,
      inputs,
      outputs: (schema?.outputs ?? []).map((o, slot) => ({
        name: o.name,
        type: o.type,
        links: outLinks.get(`${id}:${slot}`) ?? [],
        slot_index: slot,
      })),
      properties: { "Node name for S&R": node.type },
      widgets_values: widgetsValues,
      ...(node.title ? { title: node.title } : {}),
    });
  }
  for (const r of graph.reroutes ?? []) {
    const id = rerouteId.get(r.id)!;
    const inId = rerouteIn.get(r.id);
    if (inId === undefined) continue; // carries no link any more
    slotOf(inId, 0);
    nodes.push({
      id,
      type: "Reroute",
      pos: [r.x, r.y],
      size: [75, 26],
      flags: {},
      order: order++,
      mode: 0,
      inputs: [{ name: "", type: "*", link: inId }],
      outputs: [{ name: "", type: typeOut(r.source, r.output), links: outLinks.get(`${id}:0`) ?? [], slot_index: 0 }],
      properties: { showOutputText: false, horizontal: false },
    });
  }
  for (const n of graph.notes ?? []) {
    nodes.push({
      id: ++last,
      type: n.markdown ? "MarkdownNote" : "Note",
      pos: [n.x, n.y],
      size: [n.width ?? 260, n.height ?? 120],
      flags: {},
      order: order++,
      mode: 0,
      inputs: [],
      outputs: [],
      properties: {},
      widgets_values: [n.text],
      color: "#432",
      bgcolor: "#653",
    });
  }
  return {
    last_node_id: last,
    last_link_id: links.length,
    nodes,
    links,
    groups: graph.groups.map((g) => ({
      title: g.title,
      bounding: [g.x, g.y, g.width, g.height],
      ...(g.color ? { color: g.color } : {}),
    })),
    config: {},
    extra: {},
    version: 0.4,
  };
}

/** A file name for the exported UI-format workflow. */
export function workflowFileName(name: string): string {
  return `${name.replace(/[^\w.-]+/g, "_").replace(/^_+|_+$/g, "") || "workflow"}.comfyui.json`;
}
