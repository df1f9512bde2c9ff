// The side palette: a category tree, or fuzzy search results while typing. Click adds, drag drops.
import { memo, useMemo, useState } from "react";
import type { NodeSchema } from "../../api/schemas";
import { buildCategoryTree, createNodeSearch, type CategoryNode } from "../palette-search";
import { readRecentNodeTypes } from "../recent-nodes";

export const NODE_DRAG_MIME = "application/x-flowyard-node";

function PaletteItem({ schema, onAdd }: { schema: NodeSchema; onAdd(type: string): void }) {
  return (
    <li
      className="fy-palette-item"
      draggable
      title={schema.description || schema.type}
      onDragStart={(e) => {
        e.dataTransfer.setData(NODE_DRAG_MIME, schema.type);
        e.dataTransfer.effectAllowed = "copy";
      }}
    >
      <button type="button" onClick={() => onAdd(schema.type)}>
        {schema.display_name}
      </button>
    </li>
  );
}

function Category({ node, onAdd, depth }: { node: CategoryNode; onAdd(type: string): void; depth: number }) {
  const [open, setOpen] = useState(depth === 0);
  return (
    <li className="fy-palette-category">
      <button type="button" className="fy-palette-toggle" aria-expanded={open} onClick={() => setOpen(!open)}>
        {open ? "▾" : "▸"} {node.name}
      </button>
      {open && (
        <ul>
          {node.children.map((c) => (
            <Category key={c.path} node={c} onAdd={onAdd} depth={depth + 1} />
          ))}
          {node.nodes.map((s) => (
            <PaletteItem key={s.type} schema={s} onAdd={onAdd} />
          ))}
        </ul>
      )}
    </li>
  );
}

export const NodePalette = memo(function NodePalette({
  schemas,
  onAdd,
}: {
  schemas: readonly NodeSchema[];
  onAdd(type: string): void;
}) {
  const [query, setQuery] = useState("");
  const tree = useMemo(() => buildCategoryTree(schemas), [schemas]);
  const search = useMemo(() => createNodeSearch(schemas, { recent: readRecentNodeTypes }), [schemas]);
  const results = useMemo(() => (query.trim() ? search.search(query) : []), [search, query]);
  return (
    <aside className="fy-palette" aria-label="Node palette">
      <input
        type="search"
        placeholder="Search nodes…"
        aria-label="Filter nodes"
        value={query}
        onChange={(e) => setQuery(e.target.value)}
      />
      {schemas.length === 0 && <p className="fy-empty">The node catalog is empty.</p>}
      {query.trim() ? (
        <ul className="fy-palette-results">
          {results.length === 0 && <li className="fy-empty">No matching nodes</li>}
          {results.map((s) => (
            <PaletteItem key={s.type} schema={s} onAdd={onAdd} />
          ))}
        </ul>
      ) : (
        <ul className="fy-palette-tree">
          {tree.children.map((c) => (
            <Category key={c.path} node={c} onAdd={onAdd} depth={1} />
          ))}
          {tree.nodes.map((s) => (
            <PaletteItem key={s.type} schema={s} onAdd={onAdd} />
          ))}
        </ul>
      )}
    </aside>
  );
});
