// The node palette's data: a category tree and fuzzy search over the catalog.
import Fuse from "fuse.js";
import type { NodeSchema } from "../api/schemas";

export interface CategoryNode {
  name: string;
  path: string;
  children: CategoryNode[];
  nodes: NodeSchema[];
}

/** Categories split on "/" ("image/filter" is "filter" inside "image"), sorted by name. */
export function buildCategoryTree(schemas: readonly NodeSchema[]): CategoryNode {
  const root: CategoryNode = { name: "", path: "", children: [], nodes: [] };
  for (const schema of schemas) {
    let here = root;
    for (const part of (schema.category || "misc").split("/").filter(Boolean)) {
      const path = here.path ? `${here.path}/${part}` : part;
      let child = here.children.find((c) => c.name === part);
      if (!child) {
        child = { name: part, path, children: [], nodes: [] };
        here.children.push(child);
      }
      here = child;
    }
    here.nodes.push(schema);
  }
  const sort = (node: CategoryNode) => {
    node.children.sort((a, b) => a.name.localeCompare(b.name));
    node.nodes.sort((a, b) => a.display_name.localeCompare(b.display_name));
    node.children.forEach(sort);
  };
  sort(root);
  return root;
}

export interface NodeSearch {
  search(query: string, limit?: number): NodeSchema[];
}

export interface NodeSearchOptions {
  /** Node types used recently, newest first (recent-nodes.ts), read at each search: first among equal matches. */
  recent?: () => readonly string[];
}

/** How a node matched, best first: the whole id or title, its start, the start of words, then fuzzily. */
export const MatchTier = { Exact: 0, Prefix: 1, WordStart: 2, Fuzzy: 3 } as const;
export type MatchTier = (typeof MatchTier)[keyof typeof MatchTier];

/** "KSamplerAdvanced", "image_blur", "Blur Image" -> lower-case words (camelCase and punctuation split). */
export function wordsOf(text: string): string[] {
  return text
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1 $2")
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
}

/** The tier of `schema` for `query` without fuzzy matching, or null when only a fuzzy match could find it. */
export function matchTier(schema: NodeSchema, query: string): MatchTier | null {
  const q = query.trim().toLowerCase();
  const names = [schema.display_name.toLowerCase(), schema.type.toLowerCase()];
  if (names.includes(q)) return MatchTier.Exact;
  if (names.some((n) => n.startsWith(q))) return MatchTier.Prefix;
  const tokens = wordsOf(q);
  const words = [...wordsOf(schema.display_name), ...wordsOf(schema.type)];
  if (tokens.length && tokens.every((t) => words.some((w) => w.startsWith(t)))) return MatchTier.WordStart;
  return null;
}

interface Ranked {
  schema: NodeSchema;
  tier: number;
  score: number;
}

function topCategory(schema: NodeSchema): string {
  return (schema.category || "misc").split("/")[0] ?? "";
}

/**
 * Ranked search over the catalog: exact id or title first, then a prefix of either, then every query word
 * starting a word of either, then fuzzy matches (name, id, category; description weighs little). Within a tier,
 * recently used node types come first, then nodes in the top-level categories of recent ones, then shorter names.
 * Deprecated nodes go last.
 */
export function createNodeSearch(schemas: readonly NodeSchema[], options: NodeSearchOptions = {}): NodeSearch {
  const fuse = new Fuse(schemas, {
    keys: [
      { name: "display_name", weight: 3 },
      { name: "type", weight: 2 },
      { name: "category", weight: 1 },
      { name: "description", weight: 0.3 },
    ],
    threshold: 0.35,
    ignoreLocation: true,
    includeScore: true,
  });
  const byType = new Map(schemas.map((s) => [s.type, s]));
  return {
    search(query, limit = 50) {
      const q = query.trim();
      const recent = options.recent?.() ?? [];
      const recentRank = new Map(recent.map((t, i) => [t, i]));
      const recentCategories = new Set(recent.flatMap((t) => (byType.has(t) ? [topCategory(byType.get(t)!)] : [])));
      const byRecent = (a: NodeSchema, b: NodeSchema) =>
        (recentRank.get(a.type) ?? Infinity) - (recentRank.get(b.type) ?? Infinity);
      if (!q) {
        return schemas
          .filter((s) => !s.deprecated)
          .sort((a, b) => byRecent(a, b) || a.display_name.localeCompare(b.display_name))
          .slice(0, limit);
      }
      const ranked = new Map<string, Ranked>();
      for (const schema of schemas) {
        const tier = matchTier(schema, q);
        if (tier !== null) ranked.set(schema.type, { schema, tier, score: 0 });
      }
      // Fuzzy: a one-word query as is; a longer one word by word, every word matching (in any order: "img save"
      // finds Save Image; a whole-string match would let half the words be noise).
      const tokens = q.split(/\s+/).filter(Boolean);
      const fuzzy: Ranked[] = [];
      if (tokens.length === 1) {
        for (const r of fuse.search(q, { limit: limit * 2 }))
          fuzzy.push({ schema: r.item, tier: MatchTier.Fuzzy, score: r.score ?? 1 });
      } else {
        const perToken = tokens.map((t) => new Map(fuse.search(t).map((r) => [r.item.type, r.score ?? 1])));
        for (const schema of schemas) {
          const scores = perToken.map((m) => m.get(schema.type));
          if (scores.every((x) => x !== undefined)) {
            fuzzy.push({ schema, tier: MatchTier.Fuzzy, score: scores.reduce((a, b) => a + b, 0) / scores.length });
          }
        }
      }
      for (const r of fuzzy) if (!ranked.has(r.schema.type)) ranked.set(r.schema.type, r);
      const inRecentCategory = (s: NodeSchema) => recentCategories.has(topCategory(s));
      return [...ranked.values()]
        .sort(
          (a, b) =>
            Number(Boolean(a.schema.deprecated)) - Number(Boolean(b.schema.deprecated)) ||
            a.tier - b.tier ||
            byRecent(a.schema, b.schema) ||
            Number(!inRecentCategory(a.schema)) - Number(!inRecentCategory(b.schema)) ||
            a.score - b.score ||
            a.schema.display_name.length - b.schema.display_name.length ||
            a.schema.display_name.localeCompare(b.schema.display_name),
        )
        .slice(0, limit)
        .map((r) => r.schema);
    },
  };
}
