// @vitest-environment jsdom
import { cleanup, renderHook } from "@testing-library/react";
import { ReactFlowProvider } from "@xyflow/react";
import type { ReactNode } from "react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { sampleSchemas } from "../fixtures";
import { addNode, createNode, emptyGraph } from "../graph-model";
import { createEditorStore, type EditorStore } from "../store";
import { EditorStoreProvider } from "../store-context";
import { useCanvasKeyboard } from "./use-canvas-keyboard";

afterEach(cleanup);

function setup(readOnly: boolean) {
  const schema = sampleSchemas.find((s) => s.type === "ImageBlur")!;
  const graph = addNode(emptyGraph(), createNode(schema, "1", { x: 0, y: 0 }));
  const store: EditorStore = createEditorStore({ schemas: sampleSchemas, graph });
  const onSave = vi.fn();
  const onRun = vi.fn();
  const toggleHelp = vi.fn();
  const wrapper = ({ children }: { children: ReactNode }) => (
    <EditorStoreProvider store={store}>
      <ReactFlowProvider>{children}</ReactFlowProvider>
    </EditorStoreProvider>
  );
  renderHook(() => useCanvasKeyboard({ readOnly, onSave, onRun, toggleHelp }), { wrapper });
  return { store, onSave, onRun, toggleHelp };
}

function press(init: KeyboardEventInit, target: EventTarget = window) {
  const event = new KeyboardEvent("keydown", { bubbles: true, cancelable: true, ...init });
  target.dispatchEvent(event);
  return event;
}

describe("canvas shortcuts", () => {
  it("deletes the selection on Delete and saves on Ctrl+S", () => {
    const { store, onSave } = setup(false);
    store.getState().select(["1"]);
    expect(press({ key: "Delete" }).defaultPrevented).toBe(true);
    expect(store.getState().graph.nodes["1"]).toBeUndefined();
    press({ key: "s", ctrlKey: true });
    expect(onSave).toHaveBeenCalledOnce();
  });

  it("keeps only the shortcuts that edit nothing on a read-only canvas", () => {
    const { store, onRun, toggleHelp } = setup(true);
    store.getState().select(["1"]);
    expect(press({ key: "Delete" }).defaultPrevented).toBe(false);
    expect(store.getState().graph.nodes["1"]).toBeDefined();
    press({ key: "Enter", ctrlKey: true });
    press({ key: "?" });
    expect(onRun).toHaveBeenCalledOnce();
    expect(toggleHelp).toHaveBeenCalledOnce();
  });

  it("leaves keys typed in a field to the field, except save and run", () => {
    const { store, onSave } = setup(false);
    store.getState().select(["1"]);
    const input = document.body.appendChild(document.createElement("input"));
    expect(press({ key: "Backspace" }, input).defaultPrevented).toBe(false);
    expect(store.getState().graph.nodes["1"]).toBeDefined();
    press({ key: "s", ctrlKey: true }, input);
    expect(onSave).toHaveBeenCalledOnce();
    input.remove();
  });
});
