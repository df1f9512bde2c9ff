// Write what changed between two JSON documents into a Y.Doc, key by key: how the editor's store will push its
// edits (it keeps working on JSON documents; this turns each change into the fewest Yjs writes). Only keys that
// differ between `before` and `after` are written, so changes from others that reached the Y.Doc after `before`
// are never overwritten by a stale copy. Nodes inside a subgraph are written one by one as the root's are. A node this copy knew that is gone from the Y.Doc was deleted by someone
// else: an edit of it is dropped rather than bring it back. The viewport is each person's own and is not written.
import * as Y from "yjs";
import { nodeMap, roots, subgraphMap, type JsonDocument } from "./doc-model";

type JsonObject = Record<string, unknown>;
const NODE_LAYOUT_KEYS = ["x", "y", "width", "height", "collapsed", "mode", "title"] as const;
const ITEM_LISTS = ["groups", "notes", "reroutes"] as const;

const text = (value: unknown): string => JSON.stringify(value);
const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);
const asObject = (value: unknown): JsonObject =>
  value && typeof value === "object" && !Array.isArray(value) ? (value as JsonObject) : {};

/** Set `map[key]` to `after[key]` where it differs from `before[key]`; undefined removes the key. */
function writeFields(map: Y.Map<unknown>, before: JsonObject, after: JsonObject, keys: Iterable<string>): number {
  let writes = 0;
  for (const key of keys) {
    if (same(before[key], after[key])) continue;
    if (after[key] === undefined || after[key] === null) map.delete(key);
    else map.set(key, text(after[key]));
    writes += 1;
  }
  return writes;
}

function itemIndex(list: Y.Array<Y.Map<string>>, key: string, id: unknown): number {
  const wanted = text(id);
  return list.toArray().findIndex((item) => item.get(key) === wanted);
}

function itemMap(item: JsonObject): Y.Map<string> {
  const map = new Y.Map<string>();
  for (const [key, value] of Object.entries(item)) if (value !== undefined) map.set(key, text(value));
  return map;
}

/** Items of a list, by their identifying field (`id`, or `name` for the app's inputs and outputs). */
function writeList(list: Y.Array<Y.Map<string>>, key: string, before: unknown, after: unknown): number {
  const old = new Map((Array.isArray(before) ? before : []).map((item: JsonObject) => [text(item[key]), item]));
  const next = (Array.isArray(after) ? after : []) as JsonObject[];
  const kept = new Set(next.map((item) => text(item[key])));
  let writes = 0;
  for (const [id, item] of old) {
    if (kept.has(id)) continue;
    const index = itemIndex(list, key, item[key]);
    if (index >= 0) list.delete(index, 1);
    writes += 1;
  }
  next.forEach((item, position) => {
    const previous = old.get(text(item[key]));
    if (previous === undefined) {
      list.insert(Math.min(position, list.length), [itemMap(item)]);
      writes += 1;
      return;
    }
    const index = itemIndex(list, key, item[key]);
    const map = index >= 0 ? list.get(index) : undefined;
    if (map)
      writes += writeFields(
        map as Y.Map<unknown>,
        previous,
        item,
        new Set([...Object.keys(previous), ...Object.keys(item)]),
      );
  });
  return writes;
}

type NodesJson = JsonDocument["graph"]["nodes"];

const asNullable = (value: unknown): JsonObject | null =>
  value && typeof value === "object" && !Array.isArray(value) ? (value as JsonObject) : null;

/** The changes of nodes (graph nodes and their layout entries) into a nodes Y.Map, the root's or a subgraph's. */
function writeNodes(
  target: Y.Map<unknown>,
  oldNodes: NodesJson,
  newNodes: NodesJson,
  oldLayoutNodes: unknown,
  newLayoutNodes: unknown,
): number {
  const oldLayout = asObject(oldLayoutNodes);
  const newLayout = asObject(newLayoutNodes);
  let writes = 0;
  for (const id of new Set([...Object.keys(oldNodes), ...Object.keys(oldLayout)])) {
    if (!(id in newNodes) && !(id in newLayout)) {
      target.delete(id);
      writes += 1;
    }
  }
  for (const id of new Set([...Object.keys(newNodes), ...Object.keys(newLayout)])) {
    const was = oldNodes[id];
    const now = newNodes[id];
    const node = target.get(id);
    const known = id in oldNodes || id in oldLayout;
    // Known here but gone from the draft: someone else deleted it, and it stays deleted (the editor says so).
    if (known && !(node instanceof Y.Map)) continue;
    if (!known || !(node instanceof Y.Map) || (now && was && was.type !== now.type) || !!now !== !!was) {
      target.set(id, nodeMap(now ? now.type : null, now?.inputs ?? {}, asObject(newLayout[id])));
      writes += 1;
      continue;
    }
    if (now && was) {
      const inputs = node.get("inputs");
      if (inputs instanceof Y.Map) {
        writes += writeFields(
          inputs,
          was.inputs,
          now.inputs,
          new Set([...Object.keys(was.inputs), ...Object.keys(now.inputs)]),
        );
      }
    }
    writes += writeFields(node, asObject(oldLayout[id]), asObject(newLayout[id]), NODE_LAYOUT_KEYS);
  }
  return writes;
}

/** The optional layout lists a document has (an empty list and no list read back differently). */
function sectionsOf(document: JsonDocument): string[] {
  const present: string[] = ITEM_LISTS.filter((name) => Array.isArray(document.layout[name]));
  return document.layout.subgraphs !== undefined ? [...present, "subgraphs"] : present;
}

/** Write the changes from `before` to `after` into `doc` in one transaction; returns how many writes it made. */
export function applyChanges(doc: Y.Doc, before: JsonDocument, after: JsonDocument, origin?: unknown): number {
  const parts = roots(doc);
  let writes = 0;
  doc.transact(() => {
    writes += writeNodes(
      parts.nodes as Y.Map<unknown>,
      before.graph.nodes,
      after.graph.nodes,
      before.layout.nodes,
      after.layout.nodes,
    );
    for (const name of ITEM_LISTS) writes += writeList(parts[name], "id", before.layout[name], after.layout[name]);
    const oldApp = before.layout.app as JsonObject | undefined;
    const newApp = after.layout.app as JsonObject | undefined;
    if (newApp === undefined && oldApp !== undefined) {
      parts.app.delete("inputs");
      parts.app.delete("outputs");
      writes += 1;
    } else if (newApp !== undefined) {
      for (const key of ["inputs", "outputs"] as const) {
        let list = parts.app.get(key);
        if (!(list instanceof Y.Array)) {
          list = new Y.Array<Y.Map<string>>();
          parts.app.set(key, list);
          writes += 1;
          writes += writeList(list, "name", [], newApp[key]);
        } else writes += writeList(list, "name", oldApp?.[key], newApp[key]);
      }
    }
    const oldSubs = asObject(before.graph.subgraphs);
    const newSubs = asObject(after.graph.subgraphs);
    const oldSubLayouts = asObject(before.layout.subgraphs);
    const newSubLayouts = asObject(after.layout.subgraphs);
    for (const id of new Set([
      ...Object.keys(oldSubs),
      ...Object.keys(newSubs),
      ...Object.keys(oldSubLayouts),
      ...Object.keys(newSubLayouts),
    ])) {
      const was = { graph: asNullable(oldSubs[id]), layout: asNullable(oldSubLayouts[id]) };
      const now = { graph: asNullable(newSubs[id]), layout: asNullable(newSubLayouts[id]) };
      if (same(was, now)) continue;
      const stored = parts.subgraphs.get(id);
      const known = was.graph !== null || was.layout !== null;
      if (now.graph === null && now.layout === null) {
        parts.subgraphs.delete(id);
        writes += 1;
      } else if (known && stored === undefined) {
        continue; // deleted by someone else meanwhile: it stays deleted
      } else if (!known || !(stored instanceof Y.Map)) {
        parts.subgraphs.set(id, subgraphMap(now.graph, now.layout)); // new, or stored whole by an older editor
        writes += 1;
      } else {
        const rest = (v: JsonObject | null) => (v ? { ...v, nodes: undefined } : null);
        for (const key of ["graph", "layout"] as const) {
          if (same(rest(was[key]), rest(now[key]))) continue;
          stored.set(key, text(rest(now[key])));
          writes += 1;
        }
        let nodes = stored.get("nodes");
        if (!(nodes instanceof Y.Map)) {
          nodes = new Y.Map<unknown>();
          stored.set("nodes", nodes);
        }
        writes += writeNodes(
          nodes as Y.Map<unknown>,
          asObject(was.graph?.nodes) as NodesJson,
          asObject(now.graph?.nodes) as NodesJson,
          was.layout?.nodes,
          now.layout?.nodes,
        );
      }
    }
    const meta = parts.meta as Y.Map<unknown>;
    if (!same(sectionsOf(before), sectionsOf(after))) {
      meta.set("sections", text(sectionsOf(after)));
      writes += 1;
    }
    writes += writeFields(meta, { outputs: before.graph.outputs }, { outputs: after.graph.outputs }, ["outputs"]);
  }, origin);
  return writes;
}
