// Groups: titled rectangles drawn behind nodes (layout.groups in the document). Pure functions over the graph.
// A node belongs to a group while its centre lies inside the group's rectangle; moving a group moves them.
import type { LayoutGroup } from "../api/schemas";
import { nextInSpace, WHOLE_ID_SPACE, type EditorGraph, type IdSpace, type Position } from "./graph-model";

export const GROUP_PADDING = 24;
export const GROUP_TITLE_HEIGHT = 34;
const DEFAULT_NODE_SIZE = { width: 220, height: 100 };

type Sizes = Readonly<Record<string, { width: number; height: number } | undefined>>;

function nodeRect(graph: EditorGraph, id: string, sizes: Sizes) {
  const node = graph.nodes[id]!;
  const size = sizes[id] ?? {
    width: node.width ?? DEFAULT_NODE_SIZE.width,
    height: node.height ?? DEFAULT_NODE_SIZE.height,
  };
  return { x: node.position.x, y: node.position.y, width: size.width, height: size.height };
}

export function nextGroupId(graph: EditorGraph, space: IdSpace = WHOLE_ID_SPACE): string {
  if (space !== WHOLE_ID_SPACE)
    return `g${nextInSpace(
      graph.groups.map((g) => Number(g.id.slice(1))),
      space,
    )}`;
  let n = graph.groups.length + 1;
  const taken = new Set(graph.groups.map((g) => g.id));
  while (taken.has(`g${n}`)) n += 1;
  return `g${n}`;
}

/** A new group framing nodes `ids` (padding around them, room for the title above). Null without nodes. */
export function groupAround(
  graph: EditorGraph,
  ids: readonly string[],
  sizes: Sizes,
  title = "Group",
  space: IdSpace = WHOLE_ID_SPACE,
): LayoutGroup | null {
  const rects = ids.filter((id) => id in graph.nodes).map((id) => nodeRect(graph, id, sizes));
  if (!rects.length) return null;
  const minX = Math.min(...rects.map((r) => r.x));
  const minY = Math.min(...rects.map((r) => r.y));
  const maxX = Math.max(...rects.map((r) => r.x + r.width));
  const maxY = Math.max(...rects.map((r) => r.y + r.height));
  return {
    id: nextGroupId(graph, space),
    title,
    x: Math.round(minX - GROUP_PADDING),
    y: Math.round(minY - GROUP_PADDING - GROUP_TITLE_HEIGHT),
    width: Math.round(maxX - minX + 2 * GROUP_PADDING),
    height: Math.round(maxY - minY + 2 * GROUP_PADDING + GROUP_TITLE_HEIGHT),
  };
}

/** Ids of the nodes whose centre lies inside the group. */
export function nodesInGroup(graph: EditorGraph, group: LayoutGroup, sizes: Sizes): string[] {
  return Object.keys(graph.nodes).filter((id) => {
    const r = nodeRect(graph, id, sizes);
    const cx = r.x + r.width / 2;
    const cy = r.y + r.height / 2;
    return cx >= group.x && cx <= group.x + group.width && cy >= group.y && cy <= group.y + group.height;
  });
}

export function addGroup(graph: EditorGraph, group: LayoutGroup): EditorGraph {
  return { ...graph, groups: [...graph.groups, group] };
}

/** Move a group to `to` and the nodes `members` by the same offset. */
export function moveGroup(graph: EditorGraph, groupId: string, to: Position, members: readonly string[]): EditorGraph {
  const group = graph.groups.find((g) => g.id === groupId);
  if (!group) return graph;
  const dx = to.x - group.x;
  const dy = to.y - group.y;
  if (!dx && !dy) return graph;
  const nodes = { ...graph.nodes };
  for (const id of members) {
    const n = nodes[id];
    if (n) nodes[id] = { ...n, position: { x: n.position.x + dx, y: n.position.y + dy } };
  }
  return { ...graph, nodes, groups: graph.groups.map((g) => (g.id === groupId ? { ...g, x: to.x, y: to.y } : g)) };
}

export function renameGroup(graph: EditorGraph, groupId: string, title: string): EditorGraph {
  return {
    ...graph,
    groups: graph.groups.map((g) => (g.id === groupId ? { ...g, title: title.trim() || g.title } : g)),
  };
}

export function removeGroup(graph: EditorGraph, groupId: string): EditorGraph {
  return { ...graph, groups: graph.groups.filter((g) => g.id !== groupId) };
}
