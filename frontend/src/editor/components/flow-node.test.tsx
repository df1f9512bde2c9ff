// @vitest-environment jsdom
import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { ReactFlow, ReactFlowProvider } from "@xyflow/react";
import { afterEach, describe, expect, it } from "vitest";
import { sampleSchemas } from "../fixtures";
import type { AppNode } from "../flow-types";
import { addNode, createNode, emptyGraph } from "../graph-model";
import { createEditorStore } from "../store";
import { EditorStoreProvider } from "../store-context";
import { nodeTypes } from "./flow-node";

afterEach(cleanup);

function renderNode(
  type: string,
  extra?: (g: ReturnType<typeof emptyGraph>) => ReturnType<typeof emptyGraph>,
  zoom = 1,
) {
  const schema = sampleSchemas.find((s) => s.type === type)!;
  let graph = addNode(emptyGraph(), createNode(schema, "1", { x: 0, y: 0 }));
  if (extra) graph = extra(graph);
  const store = createEditorStore({ schemas: sampleSchemas, graph });
  const nodes: AppNode[] = Object.values(graph.nodes).map((n) => ({
    id: n.id,
    type: sampleSchemas.some((s) => s.type === n.type) ? "schema" : "missing",
    position: n.position,
    data: { nodeId: n.id, nodeType: n.type },
  })) as AppNode[];
  const view = render(
    <EditorStoreProvider store={store}>
      <ReactFlowProvider>
        <div style={{ width: 800, height: 600 }}>
          <ReactFlow
            nodes={nodes}
            edges={[]}
            nodeTypes={nodeTypes}
            defaultViewport={{ x: 0, y: 0, zoom }}
            minZoom={0.1}
          />
        </div>
      </ReactFlowProvider>
    </EditorStoreProvider>,
  );
  return { store, view };
}

describe("schema node component", () => {
  it("renders title, typed handles and one widget per kind", () => {
    const { view } = renderNode("NoiseImage");
    expect(screen.getByText("Noise Image")).toBeTruthy();
    // seed: number + control-after-run select
    expect((screen.getByLabelText("seed") as HTMLInputElement).value).toBe("0");
    expect((screen.getByLabelText("seed control after run") as HTMLSelectElement).value).toBe("randomize");
    // select with static options
    const kind = screen.getByLabelText("kind") as HTMLSelectElement;
    expect([...kind.options].map((o) => o.value)).toEqual(["uniform", "gaussian", "perlin"]);
    // multi-line text, toggle, float number
    expect(screen.getByLabelText("note").tagName).toBe("TEXTAREA");
    expect(screen.getByText("colour")).toBeTruthy();
    expect((screen.getByLabelText("strength") as HTMLInputElement).step).toBe("0.01");
    // server-provided options placeholder
    expect(screen.getByText("(options from models.noise)")).toBeTruthy();
    // output handle coloured by type
    const out = view.container.querySelector('[data-handleid="out:0"]') as HTMLElement;
    expect(out).toBeTruthy();
    expect(out.style.background).toMatch(/rgb\(100, 181, 246\)|#64b5f6/);
    // "both" inputs have a small handle next to their widget
    expect(view.container.querySelector('[data-handleid="in:seed"]')).toBeTruthy();
  });

  it("draws widget values as text when zoomed out, keeping the handles", () => {
    const { view } = renderNode("NoiseImage", undefined, 0.4);
    expect(screen.getByText("Noise Image")).toBeTruthy();
    expect(view.container.querySelector("input, select, textarea")).toBeNull();
    expect(screen.getByText("uniform")).toBeTruthy();
    expect(screen.getByText("0 · randomize")).toBeTruthy();
    expect(view.container.querySelector('[data-handleid="in:seed"]')).toBeTruthy();
  });

  it("edits values through the store and converts a widget to a socket", () => {
    const { store } = renderNode("ImageBlur");
    const radius = screen.getByLabelText("radius") as HTMLInputElement;
    fireEvent.change(radius, { target: { value: "99" } });
    expect(store.getState().graph.nodes["1"]!.values.radius).toBe(31); // clamped to max
    expect(screen.getByLabelText("radius slider")).toBeTruthy();
    fireEvent.click(screen.getByLabelText("Convert radius to socket"));
    expect(store.getState().graph.nodes["1"]!.sockets).toEqual(["radius"]);
    expect(screen.queryByLabelText("radius")).toBeNull();
    fireEvent.click(screen.getByLabelText("Convert radius to widget"));
    expect((screen.getByLabelText("radius") as HTMLInputElement).value).toBe("31");
  });

  it("renders upload, colour and toggle widgets", () => {
    renderNode("LoadImage");
    // Uploaded names to choose from, and a file input that uploads into the workspace.
    expect(screen.getByLabelText("image").tagName).toBe("SELECT");
    expect((screen.getByLabelText("Upload image") as HTMLInputElement).type).toBe("file");
    cleanup();
    renderNode("EmptyImage");
    expect((screen.getByLabelText("color") as HTMLInputElement).type).toBe("color");
  });

  it("shows a node of an unknown type as missing", () => {
    renderNode("EmptyImage", (g) => ({
      ...g,
      nodes: { ...g.nodes, "2": { ...g.nodes["1"]!, id: "2", type: "gone.Node" } },
    }));
    expect(screen.getByText("gone.Node")).toBeTruthy();
    expect(screen.getByText(/not installed/)).toBeTruthy();
  });
});
