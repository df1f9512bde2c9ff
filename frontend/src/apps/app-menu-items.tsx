// Node context menu entries: expose a widget as an app input, or an output node as an app output.
import type { NodeSchema } from "../api/schemas";
import type { EditorNode } from "../editor/graph-model";
import { useEditorStore, useEditorStoreApi } from "../editor/store-context";
import {
  exposeInput,
  exposeOutput,
  isInputExposed,
  isOutputExposed,
  unexposeInput,
  unexposeOutput,
  type AppSection,
} from "./app-section";

export function AppMenuItems({
  node,
  schema,
  onDone,
}: {
  node: EditorNode;
  schema: NodeSchema | undefined;
  onDone(): void;
}) {
  const store = useEditorStoreApi();
  const section = useEditorStore((s) => s.graph.app);
  const inSubgraph = useEditorStore((s) => s.subgraphPath.length > 0);
  if (!schema || inSubgraph) return null;
  const widgets = schema.inputs.filter((i) => i.widget && i.mode !== "socket" && !node.sockets.includes(i.name));
  const edit = (update: (s: AppSection | undefined) => AppSection) => () => {
    store.getState().change((graph) => ({ ...graph, app: update(graph.app) }));
    onDone();
  };
  return (
    <>
      {widgets.map((i) =>
        isInputExposed(section, node.id, i.name) ? (
          <button key={i.name} role="menuitem" onClick={edit((s) => unexposeInput(s, node.id, i.name))}>
            Stop exposing {i.name} in the app
          </button>
        ) : (
          <button key={i.name} role="menuitem" onClick={edit((s) => exposeInput(s, node.id, i.name))}>
            Expose {i.name} as app input
          </button>
        ),
      )}
      {schema.output_node &&
        (isOutputExposed(section, node.id) ? (
          <button role="menuitem" onClick={edit((s) => unexposeOutput(s, node.id))}>
            Stop showing as app output
          </button>
        ) : (
          <button role="menuitem" onClick={edit((s) => exposeOutput(s, node.id, node.title || schema.display_name))}>
            Show as app output
          </button>
        ))}
    </>
  );
}
