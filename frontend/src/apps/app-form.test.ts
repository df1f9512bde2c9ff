import { describe, expect, it } from "vitest";
import { hasSlider, initialValues, RANDOM, requestBody } from "./app-form";
import type { FormInput } from "./apps-api";
import { exposeInput, exposeOutput, freeName, pruneSection, unexposeInput, updateInput } from "./app-section";
import { checkAppSection } from "../workflows/document-schemas";
import type { NodeSchema } from "../api/schemas";

function input(patch: Partial<FormInput> & Pick<FormInput, "name" | "kind">): FormInput {
  return {
    label: patch.name,
    help: "",
    min: null,
    max: null,
    step: null,
    options: null,
    source: null,
    required: false,
    ...patch,
  };
}

describe("app form", () => {
  const inputs = [
    input({ name: "seed", kind: "seed", default: 5 }),
    input({ name: "width", kind: "integer", min: 1, max: 64, default: 8 }),
    input({ name: "photo", kind: "image" }),
    input({ name: "prompt", kind: "prompt", default: "a cat" }),
  ];

  it("starts seeds at random, files empty and the rest at their defaults", () => {
    expect(initialValues(inputs)).toEqual({ seed: RANDOM, width: 8, photo: null, prompt: "a cat" });
  });

  it("leaves empty files out of the body and turns typed numbers into numbers", () => {
    const values = { ...initialValues(inputs), width: "12", photo: null };
    expect(requestBody(inputs, values)).toEqual({ seed: RANDOM, width: 12, prompt: "a cat" });
    expect(requestBody(inputs, { ...values, photo: 7, width: "" })).toEqual({
      seed: RANDOM,
      photo: 7,
      prompt: "a cat",
    });
  });

  it("shows sliders for bounded numbers only", () => {
    expect(hasSlider(inputs[1]!)).toBe(true);
    expect(hasSlider(input({ name: "n", kind: "number", min: 0, max: null }))).toBe(false);
    expect(hasSlider(input({ name: "t", kind: "text", min: 0, max: 1 }))).toBe(false);
  });
});

describe("app section", () => {
  it("exposes inputs under free names and removes them again", () => {
    let section = exposeInput(undefined, "1", "width");
    section = exposeInput(section, "2", "width");
    section = exposeInput(section, "2", "width");
    expect(section.inputs.map((i) => i.name)).toEqual(["width", "width_2"]);
    section = unexposeInput(section, "1", "width");
    expect(section.inputs).toEqual([{ name: "width_2", node: "2", input: "width" }]);
    expect(freeName("9 lives", [])).toBe("_9_lives");
  });

  it("drops cleared fields on update and prunes deleted nodes", () => {
    let section = exposeOutput(exposeInput(undefined, "1", "width"), "3");
    section = updateInput(section, 0, { label: "Width", max: 64 });
    section = updateInput(section, 0, { label: "" });
    expect(section.inputs[0]).toEqual({ name: "width", node: "1", input: "width", max: 64 });
    expect(pruneSection(section, new Set(["1"])).outputs).toEqual([]);
  });

  it("is checked against the graph and the node schemas as the server checks it", () => {
    const schemas: Record<string, Partial<NodeSchema>> = {
      EmptyImage: {
        output_node: false,
        inputs: [
          {
            name: "width",
            type: "INT",
            required: true,
            mode: "both",
            has_default: true,
            tooltip: "",
            widget: { kind: "number" } as NodeSchema["inputs"][number]["widget"],
          },
        ],
      },
      SaveImage: {
        output_node: true,
        inputs: [{ name: "images", type: "IMAGE", required: true, mode: "socket", has_default: false, tooltip: "" }],
      },
    };
    const graph = {
      nodes: {
        "1": { type: "EmptyImage", inputs: { width: 8 } },
        "2": { type: "SaveImage", inputs: { images: ["1", 0] } },
      },
    };
    const schemaOf = (type: string) => schemas[type] as NodeSchema | undefined;
    const good = { inputs: [{ name: "w", node: "1", input: "width" }], outputs: [{ name: "o", node: "2" }] };
    expect(checkAppSection(good, graph, schemaOf)).toEqual([]);
    const bad = {
      inputs: [
        { name: "w", node: "1", input: "width", min: 5, max: 1 },
        { name: "w", node: "2", input: "images" },
        { name: "x", node: "9", input: "width" },
      ],
      outputs: [{ name: "bad name", node: "1" }],
    };
    expect(checkAppSection(bad, graph, schemaOf).map((p) => p.field)).toEqual([
      "layout.app.inputs.0.min",
      "layout.app.inputs.1.name",
      "layout.app.inputs.1.input",
      "layout.app.inputs.2.node",
      "layout.app.outputs.0.name",
      "layout.app.outputs.0.node",
    ]);
  });
});

describe("app section in the workflow document", () => {
  it("survives loading and saving, without the exposures of deleted nodes", async () => {
    const { fromDocument, toDocument } = await import("../editor/serialization");
    const { makeCatalog } = await import("../editor/graph-model");
    const { layoutSchema } = await import("../api/schemas");
    const catalog = makeCatalog([]);
    const app = { inputs: [{ name: "w", node: "1", input: "width", max: 64 }], outputs: [{ name: "o", node: "2" }] };
    const layout = layoutSchema.parse({ nodes: {}, app });
    const graph = fromDocument(
      {
        graph: { nodes: { "1": { type: "EmptyImage", inputs: { width: 8 } }, "2": { type: "X", inputs: {} } } },
        layout,
      },
      catalog,
    );
    expect(toDocument(graph, catalog).layout.app).toEqual(app);
    const { "2": _removed, ...rest } = graph.nodes;
    expect(toDocument({ ...graph, nodes: rest }, catalog).layout.app).toEqual({ inputs: app.inputs, outputs: [] });
  });
});

describe("live progress", () => {
  it("counts finished nodes from the live state when it is ahead of the polled answer", async () => {
    const { liveProgress } = await import("./app-page");
    const run = {
      id: "r1",
      app: "a",
      status: "running",
      created: "",
      finished: null,
      error: "",
      progress: { total: 3, finished: 1 },
      inputs: {},
      outputs: {},
      via: "member",
    };
    const node = (status: string) => ({ status }) as never;
    const live = {
      runId: "r1",
      order: ["1", "2", "3"],
      nodes: { "1": node("cached"), "2": node("succeeded"), "3": node("running") },
    } as never;
    expect(liveProgress(live, run)).toEqual({ total: 3, finished: 2 });
    expect(liveProgress(null, run)).toEqual({ total: 3, finished: 1 });
    expect(liveProgress({ ...(live as object), runId: "other" } as never, run)).toEqual(run.progress);
  });
});

describe("app panel defaults", () => {
  it("keeps the widget's type: numbers stay numbers, booleans booleans, text text", async () => {
    const { defaultFrom } = await import("./app-panel");
    expect(defaultFrom("12", 8)).toBe(12);
    expect(defaultFrom("true", false)).toBe(true);
    expect(defaultFrom("a dog", "a cat")).toBe("a dog");
    expect(defaultFrom("", 8)).toBeUndefined();
  });
});
