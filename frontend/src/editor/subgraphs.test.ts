import { describe, expect, it } from "vitest";
import { sampleCatalog, sampleSchemas } from "./fixtures";
import { addNode, createNode, emptyGraph, makeEdge, setWidgetValue, type EditorGraph } from "./graph-model";
import { exportGraphForRun, fromDocument, toDocument } from "./serialization";
import { createEditorStore } from "./store";
import {
  closeView,
  convertToSubgraph,
  INPUTS_NODE,
  instanceStatus,
  openView,
  OUTPUTS_NODE,
  withSubgraphCatalog,
} from "./subgraphs";
import { schemaOf } from "./fixtures";

// EmptyImage(1) -> Blur(2) -> Invert(3) -> Save(4); converting {2, 3} gives one input and one output.
function chain(): EditorGraph {
  let g = emptyGraph();
  g = addNode(g, createNode(schemaOf("EmptyImage"), "1", { x: 0, y: 0 }));
  g = addNode(g, createNode(schemaOf("ImageBlur"), "2", { x: 300, y: 0 }));
  g = addNode(g, createNode(schemaOf("ImageInvert"), "3", { x: 600, y: 0 }));
  g = addNode(g, createNode(schemaOf("SaveImage"), "4", { x: 900, y: 0 }));
  g = {
    ...g,
    edges: [makeEdge("1", 0, "2", "image"), makeEdge("2", 0, "3", "image"), makeEdge("3", 0, "4", "images")],
  };
  return setWidgetValue(g, "2", "radius", 7);
}

describe("convertToSubgraph", () => {
  it("moves the selection into a definition whose boundary links become inputs and outputs", () => {
    const result = convertToSubgraph(chain(), sampleCatalog, ["2", "3"], { id: "blur", name: "Blur+invert" })!;
    const { graph, instance } = result;
    expect(instance).toBe("5");
    expect(Object.keys(graph.nodes).sort()).toEqual(["1", "4", "5"]);
    expect(graph.nodes["5"]!.type).toBe("subgraph:blur");
    expect(graph.edges.map((e) => e.id).sort()).toEqual(["1:0->5:image", "5:0->4:images"]);
    const def = graph.subgraphs!["blur"]!;
    expect(def.inputs).toEqual([{ name: "image", type: "IMAGE", targets: [["2", "image"]] }]);
    expect(def.outputs).toEqual([{ name: "image", type: "IMAGE", source: ["3", 0] }]);
    expect(Object.keys(def.graph.nodes).sort()).toEqual(["2", "3"]);
    expect(def.graph.edges.map((e) => e.id)).toEqual(["2:0->3:image"]);
  });

  it("is undoable through the store and gives the instance sockets from the definition", () => {
    const store = createEditorStore({ schemas: sampleSchemas, graph: chain() });
    store.getState().select(["2", "3"]);
    const instance = store.getState().convertSelectionToSubgraph("Mine")!;
    const schema = store.getState().catalog.get(store.getState().graph.nodes[instance]!.type)!;
    expect(schema.display_name).toBe("Mine");
    expect(schema.inputs.map((i) => [i.name, i.type, i.mode])).toEqual([["image", "IMAGE", "socket"]]);
    expect(schema.outputs.map((o) => o.type)).toEqual(["IMAGE"]);
    store.getState().undo();
    expect(Object.keys(store.getState().graph.nodes).sort()).toEqual(["1", "2", "3", "4"]);
  });
});

describe("opening a subgraph", () => {
  it("shows its inside with boundary nodes, and edits inside change the definition for every instance", () => {
    const store = createEditorStore({ schemas: sampleSchemas, graph: chain() });
    store.getState().select(["2", "3"]);
    const instance = store.getState().convertSelectionToSubgraph("Mine")!;
    expect(store.getState().openSubgraph(instance)).toBe(true);
    const view = store.getState().graph;
    expect(Object.keys(view.nodes).sort()).toEqual(["2", "3", INPUTS_NODE, OUTPUTS_NODE]);
    expect(view.edges.map((e) => e.id).sort()).toEqual(["2:0->3:image", "3:0->@out:image", "@in:0->2:image"]);
    expect(
      store
        .getState()
        .catalog.get(view.nodes[INPUTS_NODE]!.type)!
        .outputs.map((o) => o.name),
    ).toEqual(["image"]);

    store.getState().setWidgetValue("2", "radius", 11);
    // Feed the output from the blur instead of the invert.
    expect(
      store.getState().connect({ source: "2", sourceOutput: 0, target: OUTPUTS_NODE, targetInput: "image" }).ok,
    ).toBe(true);
    // Saving from inside saves the root with the edited definition.
    const saved = toDocument(store.getState().graphToSave(), store.getState().baseCatalog);
    expect(Object.keys(saved.graph.nodes).sort()).toEqual(["1", "4", "5"]);
    const def = Object.values(saved.graph.subgraphs!)[0]!;
    expect(def.nodes["2"]!.inputs["radius"]).toBe(11);
    expect(def.outputs[0]!.source).toEqual(["2", 0]);

    store.getState().closeSubgraph();
    expect(store.getState().subgraphPath).toEqual([]);
    expect(Object.keys(store.getState().graph.nodes).sort()).toEqual(["1", "4", "5"]);
    expect(Object.values(store.getState().graph.subgraphs!)[0]!.graph.nodes["2"]!.values["radius"]).toBe(11);
  });

  it("round-trips open and close without changing the definition", () => {
    const { graph } = convertToSubgraph(chain(), sampleCatalog, ["2", "3"], { id: "s" })!;
    const catalog = withSubgraphCatalog(sampleCatalog, graph.subgraphs);
    const again = closeView(openView(graph.subgraphs!, "s", catalog), "s");
    expect(again["s"]).toEqual(graph.subgraphs!["s"]);
  });
});

describe("serializing subgraphs", () => {
  it("saves definitions in graph.subgraphs and their layout in layout.subgraphs, and loads them back", () => {
    const { graph } = convertToSubgraph(chain(), sampleCatalog, ["2", "3"], { id: "s", name: "S" })!;
    const doc = toDocument(graph, sampleCatalog);
    expect(doc.graph.nodes["5"]).toEqual({ type: "subgraph:s", inputs: { image: ["1", 0] } });
    expect(doc.graph.subgraphs!["s"]).toEqual({
      name: "S",
      inputs: [{ name: "image", type: "IMAGE", targets: [["2", "image"]] }],
      outputs: [{ name: "image", type: "IMAGE", source: ["3", 0] }],
      nodes: {
        "2": { type: "ImageBlur", inputs: { radius: 7 } },
        "3": { type: "ImageInvert", inputs: { image: ["2", 0] } },
      },
    });
    expect(doc.layout.subgraphs!["s"]!.nodes["3"]).toEqual({ x: 600, y: 0 });
    const loaded = fromDocument(doc, sampleCatalog);
    expect(toDocument(loaded, sampleCatalog)).toEqual(doc);
  });

  it("runs with muted nodes inside left out", () => {
    const { graph } = convertToSubgraph(chain(), sampleCatalog, ["2", "3"], { id: "s" })!;
    const inner = graph.subgraphs!["s"]!.graph;
    const muted: EditorGraph = {
      ...graph,
      subgraphs: {
        s: {
          ...graph.subgraphs!["s"]!,
          graph: { ...inner, nodes: { ...inner.nodes, "3": { ...inner.nodes["3"]!, mode: "mute" } } },
        },
      },
    };
    const run = exportGraphForRun(muted, sampleCatalog);
    expect(Object.keys(run.subgraphs!["s"]!.nodes)).toEqual(["2"]);
    expect(run.subgraphs!["s"]!.outputs[0]!.source).toBeNull();
  });
});

describe("instanceStatus", () => {
  it("shows an instance as its inner nodes' run state", () => {
    expect(instanceStatus({ "5:2": { status: "succeeded" }, "5:3": { status: "running" } }, "5")).toBe("running");
    expect(instanceStatus({ "5:2": { status: "succeeded" }, "5:3": { status: "cached" } }, "5")).toBe("succeeded");
    expect(instanceStatus({ "5:2": { status: "failed" }, "50": { status: "running" } }, "5")).toBe("failed");
    expect(instanceStatus({ "6:1": { status: "running" } }, "5")).toBeNull();
  });
});
