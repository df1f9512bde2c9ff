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

/** Fuzzy search by display name, type id, category and description (name weighs most). */
export function createNodeSearch(schemas: readonly NodeSchema[]): NodeSearch {
  const fuse = new Fuse(schemas, {
    keys: [
      { name: "display_name", weight: 3 },
      { name: "type", weight: 2 },
      { name: "category", weight: 1 },
      { name: "description", weight: 0.5 },
    ],
    threshold: 0.4,
    ignoreLocation: true,
  });
  return {
    search(query, limit = 50) {
      const q = query.trim();
      if (!q) {
        return [...schemas]
          .filter((s) => !s.deprecated)
          .sort((a, b) => a.display_name.localeCompare(b.display_name))
          .slice(0, limit);
      }
      return fuse
        .search(q, { limit: limit * 2 })
        .map((r) => r.item)
        .sort((a, b) => Number(Boolean(a.deprecated)) - Number(Boolean(b.deprecated)))
        .slice(0, limit);
    },
  };
}
