// @vitest-environment jsdom
import { act, cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { InputSpec } from "../../api/schemas";
import { setFetcher } from "../../api/client";
import { sampleSchemas } from "../fixtures";
import { emptyGraph } from "../graph-model";
import { refreshModelFiles, resetModelFiles } from "../model-files";
import { createEditorStore } from "../store";
import { EditorStoreProvider } from "../store-context";
import { Widget } from "./widgets";

const spec: InputSpec = {
  name: "ckpt_name",
  type: "STRING",
  required: true,
  mode: "widget",
  default: "",
  has_default: true,
  widget: { kind: "select", options: null, source: "modelfiles.checkpoints" },
} as InputSpec;

let files: { name: string; size_bytes: number | null }[] = [];
let asked: string[] = [];

beforeEach(() => {
  resetModelFiles();
  asked = [];
  setFetcher(async (url) => {
    asked.push(String(url));
    const kind = new URL(String(url), "http://x").searchParams.get("kind") ?? "";
    const body = {
      count: 0,
      results: [],
      files: { [kind]: files.map((f) => ({ ...f, sha256: null, workers: ["w1"] })) },
    };
    return new Response(JSON.stringify(body), { status: 200, headers: { "Content-Type": "application/json" } });
  });
});

afterEach(() => {
  cleanup();
  setFetcher((...args) => fetch(...args));
});

function renderPicker(value: unknown) {
  const store = createEditorStore({ schemas: sampleSchemas, graph: emptyGraph() });
  const set: [string, string, unknown][] = [];
  const real = store.getState().setWidgetValue;
  store.setState({
    setWidgetValue: (nodeId: string, name: string, v: unknown) => {
      set.push([nodeId, name, v]);
      real(nodeId, name, v);
    },
  } as never);
  render(
    <EditorStoreProvider store={store}>
      <Widget nodeId="1" spec={spec} value={value} />
    </EditorStoreProvider>,
  );
  return set;
}

const optionTexts = () => [...(screen.getByLabelText("ckpt_name") as HTMLSelectElement).options].map((o) => o.text);

describe("model file picker", () => {
  it("lists the kind's files with their sizes from /api/models?kind= and sets the chosen name", async () => {
    files = [
      { name: "sd15.safetensors", size_bytes: 2 * 1024 * 1024 },
      { name: "xl/base.safetensors", size_bytes: null },
    ];
    const set = renderPicker("");
    await waitFor(() => expect(optionTexts()).toEqual(["choose…", "sd15.safetensors (2.0 MB)", "xl/base.safetensors"]));
    expect(asked).toEqual(["/api/models?kind=checkpoints"]);
    fireEvent.change(screen.getByLabelText("ckpt_name"), { target: { value: "xl/base.safetensors" } });
    expect(set).toEqual([["1", "ckpt_name", "xl/base.safetensors"]]);
  });

  it("keeps a value no worker lists and marks it missing", async () => {
    files = [{ name: "sd15.safetensors", size_bytes: 10 }];
    renderPicker("gone.safetensors");
    await waitFor(() => expect(optionTexts()).toContain("gone.safetensors (missing)"));
    expect((screen.getByLabelText("ckpt_name") as HTMLSelectElement).value).toBe("gone.safetensors");
    expect(screen.getByText("Not in the checkpoints folder of any worker.")).toBeTruthy();
  });

  it("offers a search box for long lists that filters the options, keeping the current one", async () => {
    files = Array.from({ length: 12 }, (_, i) => ({ name: `model-${i}.safetensors`, size_bytes: null }));
    renderPicker("model-3.safetensors");
    const search = (await screen.findByLabelText("search ckpt_name")) as HTMLInputElement;
    fireEvent.change(search, { target: { value: "model-1" } });
    expect(optionTexts()).toEqual([
      "choose…",
      "model-1.safetensors",
      "model-3.safetensors",
      "model-10.safetensors",
      "model-11.safetensors",
    ]);
  });

  it("shows an empty folder as such and picks up files after a refresh", async () => {
    files = [];
    renderPicker("");
    await waitFor(() => expect(optionTexts()).toEqual(["(no checkpoints models)"]));
    files = [{ name: "new.safetensors", size_bytes: null }];
    await act(async () => {
      refreshModelFiles();
    });
    await waitFor(() => expect(optionTexts()).toEqual(["choose…", "new.safetensors"]));
  });
});
