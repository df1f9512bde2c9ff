// @vitest-environment jsdom
// Queueing from the editor (fake fetch) and the node overlay: validation errors on node and input.
import { cleanup, render, screen } from "@testing-library/react";
import { ReactFlow, ReactFlowProvider } from "@xyflow/react";
import { afterEach, describe, expect, it } from "vitest";
import { setFetcher } from "../api/client";
import { nodeTypes } from "../editor/components/flow-node";
import { sampleSchemas, schemaOf } from "../editor/fixtures";
import type { AppNode } from "../editor/flow-types";
import { addNode, createNode, emptyGraph, makeEdge } from "../editor/graph-model";
import { createEditorStore } from "../editor/store";
import { EditorStoreProvider } from "../editor/store-context";
import samples from "./__fixtures__/backend-samples.json";
import { createEditorRunsStore, EditorRunsProvider, queueRun } from "./editor-runs";

afterEach(() => {
  cleanup();
  setFetcher((...args) => fetch(...args));
});

function graph() {
  let g = emptyGraph();
  g = addNode(g, createNode(schemaOf("NoiseImage"), "1", { x: 0, y: 0 }));
  g = addNode(g, createNode(schemaOf("ImageBlur"), "2", { x: 300, y: 0 }));
  return { ...g, edges: [makeEdge("1", 0, "2", "image")] };
}

function answer(status: number, body: unknown) {
  const calls: { url: string; body: unknown }[] = [];
  setFetcher(async (url, init) => {
    calls.push({ url: String(url), body: init?.body ? JSON.parse(String(init.body)) : undefined });
    return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
  });
  return calls;
}

describe("queueRun", () => {
  it("posts the workflow version, shows the run and advances seeds", async () => {
    const editor = createEditorStore({ schemas: sampleSchemas, graph: graph(), now: () => 0 });
    const runs = createEditorRunsStore(5);
    const calls = answer(201, samples.run_created);
    const seedBefore = editor.getState().graph.nodes["1"]!.values.seed;
    const id = await queueRun(editor, runs, { workflow: { id: 9, workspace: 5 }, version: 3, fallbackWorkspace: 1 });
    expect(id).toBe(samples.run_created.id);
    expect(calls[0]!.body).toEqual({ workflow: 9, version: 3 });
    expect(runs.getState().activeRunId).toBe(id);
    expect(editor.getState().graph.nodes["1"]!.values.seed).not.toBe(seedBefore); // randomize
    expect(runs.getState().submitting).toBe(0);
  });

  it("pins 400 graph errors to nodes and inputs", async () => {
    const editor = createEditorStore({ schemas: sampleSchemas, graph: graph() });
    const runs = createEditorRunsStore(5);
    answer(400, {
      detail: "The graph cannot run: 2 problems found.",
      errors: [
        { code: "invalid_value", message: "too wide", node: "1", input: "strength" },
        { code: "missing_input", message: "needs something", node: "2", input: null },
      ],
    });
    expect(await queueRun(editor, runs, { workflow: null, version: null, fallbackWorkspace: 1 })).toBeNull();
    expect(runs.getState().validation["1"]).toEqual([
      { input: "strength", code: "invalid_value", message: "too wide" },
    ]);
    expect(editor.getState().selectedNodes.sort()).toEqual(["1", "2"]);
    expect(editor.getState().notice?.kind).toBe("error");

    // …and the canvas shows them: red node, message under the input, node-level message in the body.
    const g = editor.getState().graph;
    const nodes = Object.values(g.nodes).map((n) => ({
      id: n.id,
      type: "schema",
      position: n.position,
      data: { nodeId: n.id },
    })) as AppNode[];
    render(
      <EditorStoreProvider store={editor}>
        <EditorRunsProvider store={runs}>
          <ReactFlowProvider>
            <div style={{ width: 800, height: 600 }}>
              <ReactFlow nodes={nodes} edges={[]} nodeTypes={nodeTypes} />
            </div>
          </ReactFlowProvider>
        </EditorRunsProvider>
      </EditorStoreProvider>,
    );
    expect(screen.getByText("too wide")).toBeTruthy();
    expect(screen.getByText("needs something")).toBeTruthy();
    expect(screen.getByTestId("node-1").className).toContain("run-invalid");
  });
});
