// A version someone else saved: the tab's "•" clears when it shows that content, stays when it holds more, and an
// older notice answered late does not win over a newer one.
import { describe, expect, it, vi } from "vitest";
import type { WorkflowDocument } from "../api/schemas";
import { sampleSchemas } from "../editor/fixtures";
import { makeCatalog } from "../editor/graph-model";
import { fromDocument } from "../editor/serialization";
import { createEditorStore } from "../editor/store";
import { showSavedVersion, versionSavedHandler } from "./version-saved";

const TYPE = sampleSchemas.find((s) => s.inputs.some((i) => i.widget?.kind === "text" && i.mode !== "socket"))!;
const WIDGET = TYPE.inputs.find((i) => i.widget?.kind === "text" && i.mode !== "socket")!.name;

function documentWith(text: string, zoom = 1): WorkflowDocument {
  return {
    graph: { nodes: { "1": { type: TYPE.type, inputs: { [WIDGET]: text } } } },
    layout: { nodes: { "1": { x: 0, y: 0 } }, groups: [], viewport: { x: 0, y: 0, zoom } },
  };
}

/** A tab that loaded version 1 ("old") and now shows `text` (a remote edit: the "•" shows). */
function tabShowing(text: string) {
  const catalog = makeCatalog(sampleSchemas);
  const store = createEditorStore({ schemas: sampleSchemas, graph: fromDocument(documentWith("old"), catalog) });
  store.setState({ graph: fromDocument(documentWith(text), catalog) });
  return store;
}

const dirty = (store: ReturnType<typeof tabShowing>) => store.getState().isDirty();

describe("showSavedVersion", () => {
  it("clears the mark when the tab shows the version's content, whatever the viewport", () => {
    const store = tabShowing("new");
    expect(dirty(store)).toBe(true);
    showSavedVersion(store, documentWith("new", 2));
    expect(dirty(store)).toBe(false);
    expect(store.getState().savedGraph).toBe(store.getState().graph);
  });

  it("keeps the mark when the tab holds edits the version lacks, and compares runs with the version", () => {
    const store = tabShowing("newer");
    showSavedVersion(store, documentWith("new"));
    expect(dirty(store)).toBe(true);
    expect(store.getState().savedGraph.nodes["1"]!.values[WIDGET]).toBe("new");
  });
});

describe("versionSavedHandler", () => {
  it("reads the version, applies it and tells the new number", async () => {
    const store = tabShowing("new");
    const onVersion = vi.fn();
    const fetchVersion = vi.fn(() => Promise.resolve(documentWith("new")));
    await versionSavedHandler({ workflowId: 7, store, onVersion, fetchVersion })({ version: 2 });
    expect(fetchVersion).toHaveBeenCalledWith(7, 2);
    expect(onVersion).toHaveBeenCalledWith(2);
    expect(dirty(store)).toBe(false);
  });

  it("applies only the newest version when an older one's document comes last, and survives a failed read", async () => {
    const store = tabShowing("v3");
    const onVersion = vi.fn();
    let answerV2: (d: WorkflowDocument) => void = () => undefined;
    const fetchVersion = vi.fn((_id: number, n: number) =>
      n === 2
        ? new Promise<WorkflowDocument>((resolve) => (answerV2 = resolve))
        : n === 3
          ? Promise.resolve(documentWith("v3"))
          : Promise.reject(new Error("offline")),
    );
    const handle = versionSavedHandler({ workflowId: 7, store, onVersion, fetchVersion });
    const older = handle({ version: 2 });
    await handle({ version: 3 });
    answerV2(documentWith("v2"));
    await older;
    expect(onVersion.mock.calls).toEqual([[3]]);
    expect(dirty(store)).toBe(false);
    await handle({ version: 1 }); // older than the latest: not even read
    expect(fetchVersion).toHaveBeenCalledTimes(2);
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    await handle({ version: 4 }); // its read fails: the tab keeps what it had
    expect(warn).toHaveBeenCalled();
    expect(onVersion.mock.calls).toEqual([[3]]);
    warn.mockRestore();
  });
});
