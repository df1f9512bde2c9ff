// Right-click menu of a node: rename, bypass, mute, collapse, convert widgets ⇄ sockets, open/convert to a
// subgraph, duplicate, delete.
import { AppMenuItems } from "../../apps/app-menu-items";
import { useEditorStore, useEditorStoreApi } from "../store-context";
import { subgraphIdOf } from "../subgraphs";
import { useClampedPosition } from "./use-clamped-position";

export interface MenuState {
  nodeId: string;
  x: number;
  y: number;
}

export function NodeContextMenu({ menu, onClose }: { menu: MenuState; onClose(): void }) {
  const store = useEditorStoreApi();
  const node = useEditorStore((s) => s.graph.nodes[menu.nodeId]);
  const schema = useEditorStore((s) => (node ? s.catalog.get(node.type) : undefined));
  const [popupRef, popupStyle] = useClampedPosition<HTMLDivElement>(menu);
  if (!node) return null;
  const act = (fn: () => void) => () => {
    fn();
    onClose();
  };
  const s = store.getState;
  return (
    <div className="fy-menu" ref={popupRef} style={popupStyle} role="menu" onMouseLeave={onClose}>
      <button role="menuitem" onClick={act(() => s().setRenaming(node.id))}>
        Rename…
      </button>
      <button role="menuitem" onClick={act(() => s().toggleMode("bypass"))}>
        {node.mode === "bypass" ? "Stop bypassing" : "Bypass"} <kbd>Ctrl+B</kbd>
      </button>
      <button role="menuitem" onClick={act(() => s().toggleMode("mute"))}>
        {node.mode === "mute" ? "Unmute" : "Mute"} <kbd>Ctrl+M</kbd>
      </button>
      <button role="menuitem" onClick={act(() => s().setCollapsed(node.id, !node.collapsed))}>
        {node.collapsed ? "Expand" : "Collapse"}
      </button>
      {schema?.inputs
        .filter((i) => i.mode === "both")
        .map((i) => {
          const socket = node.sockets.includes(i.name);
          return (
            <button key={i.name} role="menuitem" onClick={act(() => s().setInputAsSocket(node.id, i.name, !socket))}>
              {socket ? `Convert ${i.name} to widget` : `Convert ${i.name} to socket`}
            </button>
          );
        })}
      <AppMenuItems node={node} schema={schema} onDone={onClose} />
      {subgraphIdOf(node.type) && (
        <button role="menuitem" onClick={act(() => s().openSubgraph(node.id))}>
          Open subgraph <kbd>double-click</kbd>
        </button>
      )}
      <button role="menuitem" onClick={act(() => s().convertSelectionToSubgraph())}>
        Convert to subgraph
      </button>
      <button role="menuitem" onClick={act(() => s().duplicateSelection())}>
        Duplicate <kbd>Ctrl+D</kbd>
      </button>
      <button role="menuitem" onClick={act(() => s().deleteSelection())}>
        Delete <kbd>Del</kbd>
      </button>
    </div>
  );
}
