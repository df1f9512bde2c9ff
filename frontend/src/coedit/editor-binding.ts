// Binds the editor's store to a co-edited Y.Doc (behind the co-editing flag, use-coedit.ts): the store keeps
// working on its graph; each change of it is turned into Yjs writes (applyChanges, only what changed), and each
// change from others is loaded back into the store without an undo step. Undo and redo go through a Yjs
// UndoManager tracking only this tab's origin (undo.ts), put in place of the store's own: the store's history
// holds whole graphs, and undoing one of them would also take back what others did meanwhile.
import type * as Y from "yjs";
import type { WorkflowDocument } from "../api/schemas";
import { fromDocument, toDocument } from "../editor/serialization";
import type { EditorStore } from "../editor/store";
import { withSubgraphCatalog } from "../editor/subgraphs";
import { applyChanges } from "./apply-changes";
import { documentFromDoc, type JsonDocument } from "./doc-model";
import { createUndoManager, type LocalOrigin } from "./undo";

export interface EditorBinding {
  /** Load the Y.Doc into the store as a fresh document (history cleared): once the provider has synced. */
  loadFromDoc(): void;
  destroy(): void;
}

function documentOf(store: EditorStore): JsonDocument {
  const s = store.getState();
  return toDocument(s.graphToSave(), s.catalog) as unknown as JsonDocument;
}

export function bindEditorStore(store: EditorStore, doc: Y.Doc, origin: LocalOrigin): EditorBinding {
  let known: JsonDocument = documentOf(store);
  const undoManager: Y.UndoManager = createUndoManager(doc, origin);
  const own = store.getState();
  const history = { undo: own.undo, redo: own.redo, canUndo: own.canUndo, canRedo: own.canRedo };
  let loading = false;
  let pending = false;
  let ready = false; // nothing is written before the draft was loaded: the doc is empty until the first sync

  const load = (fresh: boolean) => {
    const s = store.getState();
    if (!fresh && s.subgraphPath.length) {
      pending = true; // shown when the subgraph view closes: its graph is a view of the root's
      return;
    }
    pending = false;
    const graph = fromDocument(documentFromDoc(doc) as unknown as WorkflowDocument, s.baseCatalog);
    loading = true;
    try {
      if (fresh) s.load(graph);
      else
        store.setState({
          graph,
          // Subgraph definitions may have changed, and selected nodes may be gone.
          catalog: withSubgraphCatalog(s.baseCatalog, graph.subgraphs),
          selectedNodes: s.selectedNodes.filter((id) => id in graph.nodes),
        });
    } finally {
      loading = false;
    }
    // What the editor now shows, as the editor writes it: later diffs hold only this person's changes.
    known = documentOf(store);
    if (!ready) {
      store.setState({
        undo: () => undoManager.undo(),
        redo: () => undoManager.redo(),
        canUndo: () => undoManager.undoStack.length > 0,
        canRedo: () => undoManager.redoStack.length > 0,
      });
    }
    ready = true;
  };

  const unsubscribe = store.subscribe((state, previous) => {
    if (loading || !ready) return;
    if (pending && state.subgraphPath.length === 0) load(false);
    if (state.graph === previous.graph) return;
    const after = documentOf(store);
    applyChanges(doc, known, after, origin);
    known = after;
  });

  let scheduled = false;
  const onUpdate = (_update: Uint8Array, from: unknown) => {
    if (from === origin || scheduled || !ready) return;
    scheduled = true;
    queueMicrotask(() => {
      scheduled = false;
      load(false);
    });
  };
  doc.on("update", onUpdate);

  return {
    loadFromDoc: () => load(true),
    destroy: () => {
      unsubscribe();
      doc.off("update", onUpdate);
      undoManager.destroy();
      if (ready) store.setState(history);
    },
  };
}
