// The search box that adds a node: opened by double-clicking the canvas or dropping a link in empty space.
import { useMemo, useState, type KeyboardEvent } from "react";
import type { NodeSchema } from "../../api/schemas";
import { createNodeSearch } from "../palette-search";
import { readRecentNodeTypes } from "../recent-nodes";
import { useClampedPosition } from "./use-clamped-position";

export interface NodeSearchPopupProps {
  schemas: readonly NodeSchema[];
  /** Screen position (relative to the canvas) where the box opens. */
  at: { x: number; y: number };
  title?: string;
  onPick(schema: NodeSchema): void;
  onClose(): void;
}

export function NodeSearchPopup({ schemas, at, title, onPick, onClose }: NodeSearchPopupProps) {
  const [query, setQuery] = useState("");
  const [active, setActive] = useState(0);
  const search = useMemo(() => createNodeSearch(schemas, { recent: readRecentNodeTypes }), [schemas]);
  const results = useMemo(() => search.search(query, 30), [search, query]);
  const [popupRef, popupStyle] = useClampedPosition<HTMLDivElement>(at, results.length);
  const onKey = (e: KeyboardEvent) => {
    if (e.key === "Escape") onClose();
    else if (e.key === "ArrowDown") {
      e.preventDefault();
      setActive((a) => Math.min(results.length - 1, a + 1));
    } else if (e.key === "ArrowUp") {
      e.preventDefault();
      setActive((a) => Math.max(0, a - 1));
    } else if (e.key === "Enter") {
      const pick = results[active];
      if (pick) onPick(pick);
    }
  };
  return (
    <div className="fy-search-popup" ref={popupRef} style={popupStyle} role="dialog" aria-label="Add a node">
      {title && <div className="fy-search-title">{title}</div>}
      <input
        autoFocus
        placeholder="Search nodes…"
        aria-label="Search nodes"
        value={query}
        onChange={(e) => {
          setQuery(e.target.value);
          setActive(0);
        }}
        onKeyDown={onKey}
        onBlur={(e) => {
          if (!e.currentTarget.parentElement?.contains(e.relatedTarget as Node | null)) onClose();
        }}
      />
      <ul role="listbox">
        {results.length === 0 && <li className="fy-empty">No matching nodes</li>}
        {results.map((s, i) => (
          <li
            key={s.type}
            role="option"
            aria-selected={i === active}
            className={i === active ? "active" : ""}
            onMouseDown={(e) => {
              e.preventDefault();
              onPick(s);
            }}
            onMouseEnter={() => setActive(i)}
          >
            <span>{s.display_name}</span>
            <small>{s.category}</small>
          </li>
        ))}
      </ul>
    </div>
  );
}
