// @vitest-environment jsdom
import { act, cleanup, fireEvent, render } from "@testing-library/react";
import { ReactFlowProvider, useStoreApi, type ReactFlowState } from "@xyflow/react";
import { afterEach, describe, expect, it } from "vitest";
import { sampleSchemas } from "../fixtures";
import { addNode, createNode, emptyGraph } from "../graph-model";
import { createEditorStore } from "../store";
import { OVERVIEW_ZOOM } from "../node-look";
import { EditorStoreProvider } from "../store-context";
import { CanvasInner } from "./canvas";

afterEach(cleanup);

function renderCanvas(readOnly = false) {
  const schema = sampleSchemas.find((s) => s.type === "ImageBlur")!;
  let graph = emptyGraph();
  for (let i = 1; i <= 3; i++) graph = addNode(graph, createNode(schema, String(i), { x: i * 300, y: 0 }));
  const store = createEditorStore({ schemas: sampleSchemas, graph });
  let flowStore: ReturnType<typeof useStoreApi> | null = null;
  function Spy() {
    flowStore = useStoreApi();
    return null;
  }
  const view = render(
    <EditorStoreProvider store={store}>
      <ReactFlowProvider>
        <div style={{ width: 800, height: 600 }}>
          <CanvasInner readOnly={readOnly} />
        </div>
        <Spy />
      </ReactFlowProvider>
    </EditorStoreProvider>,
  );
  return { store, flow: flowStore!, view };
}

describe("editor canvas", () => {
  it("sends React Flow only the changed nodes when it re-renders (a drag step re-renders it)", () => {
    const { store, flow } = renderCanvas();
    // Every store update of React Flow runs the selectors of all nodes, edges, handles and minimap nodes: a
    // re-render must not hand it new callbacks or option objects (each would be one more update).
    const updates: (keyof ReactFlowState)[][] = [];
    const unsubscribe = flow.subscribe((next, prev) => {
      updates.push((Object.keys(next) as (keyof ReactFlowState)[]).filter((k) => next[k] !== prev[k]));
    });
    act(() => store.getState().select(["2"]));
    unsubscribe();
    expect(updates.length).toBeGreaterThan(0);
    const tracked = [
      "onNodeDragStart",
      "onNodeDragStop",
      "onMoveEnd",
      "fitViewOptions",
      "onNodesChange",
      "onEdgesChange",
      "onConnect",
      "onConnectEnd",
      "isValidConnection",
    ] as const;
    for (const changed of updates) for (const key of tracked) expect(changed).not.toContain(key);
    expect(updates.some((changed) => changed.includes("nodes"))).toBe(true);
  });

  it("marks the canvas as an overview below OVERVIEW_ZOOM, without re-rendering the nodes", () => {
    const { flow, view } = renderCanvas();
    const canvas = () => view.container.querySelector(".react-flow")!;
    const node = () => view.container.querySelector("[data-testid='node-1']");
    act(() => flow.setState({ transform: [0, 0, 1] }));
    expect(canvas().classList.contains("fy-overview")).toBe(false);
    const before = node();
    expect(before).toBeTruthy();
    act(() => flow.setState({ transform: [0, 0, OVERVIEW_ZOOM - 0.05] }));
    expect(canvas().classList.contains("fy-overview")).toBe(true);
    act(() => flow.setState({ transform: [0, 0, OVERVIEW_ZOOM + 0.05] }));
    expect(canvas().classList.contains("fy-overview")).toBe(false);
    // Hidden by CSS, not re-rendered: the node's DOM and handles stay (edges keep their anchors).
    expect(node()).toBe(before);
    expect(view.container.querySelector("[data-testid='node-1'] [data-handleid='out:0']")).toBeTruthy();
  });

  it("read-only: widgets and node controls are disabled, no palette, no search, no menu, shortcuts edit nothing", () => {
    const { store, view } = renderCanvas(true);
    const graph = store.getState().graph;
    const node = view.container.querySelector("[data-testid='node-1']")!;
    const controls = [...node.querySelectorAll("input, select, textarea")];
    expect(controls.length).toBeGreaterThan(0);
    for (const c of controls) expect((c as HTMLInputElement).disabled).toBe(true);
    expect((node.querySelector(".fy-collapse") as HTMLButtonElement).disabled).toBe(true);
    expect(node.querySelector(".fy-convert")).toBeNull();
    expect(view.container.querySelector(".fy-palette")).toBeNull();
    fireEvent.doubleClick(node.querySelector(".fy-node-header")!);
    expect(view.container.querySelector(".fy-title-input")).toBeNull();
    fireEvent.contextMenu(node);
    expect(view.container.querySelector(".fy-menu")).toBeNull();
    const pane = view.container.querySelector(".react-flow__pane")!;
    fireEvent.doubleClick(pane);
    expect(view.container.querySelector(".fy-search-popup")).toBeNull();
    act(() => store.getState().select(["1"]));
    fireEvent.keyDown(window, { key: "Delete" });
    fireEvent.keyDown(window, { key: "d", ctrlKey: true });
    expect(store.getState().graph).toBe(graph);
  });

  it("editable: the same node's widgets are enabled", () => {
    const { view } = renderCanvas(false);
    const node = view.container.querySelector("[data-testid='node-1']")!;
    for (const c of node.querySelectorAll("input, select, textarea"))
      expect((c as HTMLInputElement).disabled).toBe(false);
    expect(view.container.querySelector(".fy-palette")).toBeTruthy();
  });
});
