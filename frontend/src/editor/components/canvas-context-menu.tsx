// Right-click menu of the empty canvas: add a node here, paste here, group the selection (or frame an empty
// group here), add a note, reroute the selected link through here, arrange the graph, select all, fit the view.
import type { Position } from "../graph-model";
import { useEditorStore } from "../store-context";
import { useClampedPosition } from "./use-clamped-position";

export interface CanvasMenuState {
  /** Where the menu opens, relative to the canvas. */
  x: number;
  y: number;
  /** The same point in graph coordinates: where added and pasted nodes go. */
  flow: Position;
}

export interface CanvasMenuActions {
  addNode(): void;
  paste(): void;
  group(): void;
  arrange(): void;
  note(): void;
  reroute(): void;
  selectAll(): void;
  fitView(): void;
}

export function CanvasContextMenu({
  menu,
  actions,
  onClose,
}: {
  menu: CanvasMenuState;
  actions: CanvasMenuActions;
  onClose(): void;
}) {
  const [popupRef, popupStyle] = useClampedPosition<HTMLDivElement>(menu);
  const selected = useEditorStore((s) => s.selectedNodes.length);
  const linkSelected = useEditorStore((s) => s.selectedEdges.length === 1);
  const act = (fn: () => void) => () => {
    onClose();
    fn();
  };
  return (
    <div
      className="fy-menu"
      ref={popupRef}
      style={popupStyle}
      role="menu"
      aria-label="Canvas menu"
      onMouseLeave={onClose}
    >
      <button role="menuitem" onClick={act(actions.addNode)}>
        Add node… <kbd>double-click</kbd>
      </button>
      <button role="menuitem" onClick={act(actions.paste)}>
        Paste here <kbd>Ctrl+V</kbd>
      </button>
      <button role="menuitem" onClick={act(actions.group)}>
        {selected ? `Group ${selected} selected node${selected > 1 ? "s" : ""}` : "Add a group here"}
      </button>
      <button role="menuitem" onClick={act(actions.note)}>
        Add a note here
      </button>
      {linkSelected && (
        <button role="menuitem" onClick={act(actions.reroute)}>
          Reroute the selected link here
        </button>
      )}
      <button role="menuitem" onClick={act(actions.arrange)}>
        Arrange (auto layout)
      </button>
      <button role="menuitem" onClick={act(actions.selectAll)}>
        Select all <kbd>Ctrl+A</kbd>
      </button>
      <button role="menuitem" onClick={act(actions.fitView)}>
        Fit view <kbd>F</kbd>
      </button>
    </div>
  );
}
