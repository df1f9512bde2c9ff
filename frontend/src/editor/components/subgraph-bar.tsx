// Subgraph navigation over the canvas: a breadcrumb back out of open subgraphs, and the buttons that open the
// selected instance or convert the selection into a new subgraph (the model is in ../subgraphs.ts).
import { useEditorStore, useEditorStoreApi } from "../store-context";
import { subgraphIdOf } from "../subgraphs";

export function SubgraphBreadcrumb() {
  const store = useEditorStoreApi();
  const path = useEditorStore((s) => s.subgraphPath);
  const names = useEditorStore((s) =>
    s.subgraphPath.map((f) => s.graph.subgraphs?.[f.id]?.name ?? f.id).join("\u0000"),
  );
  if (!path.length) return null;
  const labels = names.split("\u0000");
  return (
    <nav className="fy-subgraph-breadcrumb" aria-label="Subgraph">
      <button type="button" onClick={() => store.getState().closeSubgraph(0)} title="Back to the workflow">
        Workflow
      </button>
      {labels.map((label, depth) => (
        <span key={depth}>
          {" › "}
          {depth < labels.length - 1 ? (
            <button type="button" onClick={() => store.getState().closeSubgraph(depth + 1)}>
              {label}
            </button>
          ) : (
            <strong>{label}</strong>
          )}
        </span>
      ))}
      <span className="fy-muted"> — edits change every instance</span>
    </nav>
  );
}

export function SubgraphButtons() {
  const store = useEditorStoreApi();
  const selected = useEditorStore((s) => s.selectedNodes);
  const instance = useEditorStore((s) => {
    const only = s.selectedNodes.length === 1 ? s.graph.nodes[s.selectedNodes[0]!] : undefined;
    return only && subgraphIdOf(only.type) ? only.id : null;
  });
  const convert = () => {
    const s = store.getState();
    const boundary = s.selectedNodes.filter((id) => id.startsWith("@"));
    if (!s.selectedNodes.length || boundary.length) {
      return s.notify("info", "Select the nodes to put in a subgraph first (Shift+drag draws a selection box).");
    }
    const name = window.prompt("Name of the new subgraph", "Subgraph");
    if (name === null) return;
    s.convertSelectionToSubgraph(name.trim() || undefined);
  };
  return (
    <>
      <button
        type="button"
        onClick={convert}
        disabled={!selected.length}
        title="Replace the selected nodes by one subgraph node"
      >
        Convert to subgraph
      </button>
      {instance && (
        <button
          type="button"
          onClick={() => store.getState().openSubgraph(instance)}
          title="Edit the inside of this subgraph (or double-click it)"
        >
          Open subgraph
        </button>
      )}
    </>
  );
}
