// Binds the editor's store to a co-edited Y.Doc (behind the co-editing flag, use-coedit.ts): the store keeps
// working on its graph; each change of it is turned into Yjs writes (applyChanges, only what changed), and each
// change from others is loaded back into the store without an undo step. Undo and redo go through a Yjs
// UndoManager tracking only this tab's origin (undo.ts), put in place of the store's own: the store's history
// holds whole graphs, and undoing one of them would also take back what others did meanwhile. New ids come from
// this tab's own range (ids.ts). Edits made before the first sync are written into the draft once it arrives.
// A node someone else deleted stays deleted, and when it was selected or just edited here the editor says so.
import type * as Y from "yjs";
import type { WorkflowDocument } from "../api/schemas";
import { fromDocument, toDocument } from "../editor/serialization";
import { WHOLE_ID_SPACE } from "../editor/graph-model";
import type { EditorStore } from "../editor/store";
import { withSubgraphCatalog } from "../editor/subgraphs";
import { applyChanges } from "./apply-changes";
import { documentFromDoc, type JsonDocument } from "./doc-model";
import { clientIdSpace } from "./ids";
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

/** JSON text with object keys sorted: two documents with the same content, whatever order their keys came in. */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
        )
      : v,
  );
}

/** How long a node this tab edited counts as "being edited" here (for the notice when someone deletes it). */
export const EDITING_MS = 15000;

export function bindEditorStore(store: EditorStore, doc: Y.Doc, origin: LocalOrigin): EditorBinding {
  let known: JsonDocument = documentOf(store);
  const undoManager: Y.UndoManager = createUndoManager(doc, origin);
  const own = store.getState();
  const history = { undo: own.undo, redo: own.redo, canUndo: own.canUndo, canRedo: own.canRedo };
  let loading = false;
  let pending = false;
  let ready = false; // nothing is written before the draft was loaded: the doc is empty until the first sync
  const edited = new Map<string, number>(); // node id -> when this tab last changed it
  let space = clientIdSpace(doc.clientID);
  const ownIds = () => {
    if (store.getState().idSpace !== space || space.first !== clientIdSpace(doc.clientID).first) {
      space = clientIdSpace(doc.clientID); // Yjs gives a tab a new client id when it finds its own in use
      store.setState({ idSpace: space });
    }
  };

  const load = (fresh: boolean) => {
    const s = store.getState();
    if (!fresh && s.subgraphPath.length) {
      pending = true; // shown when the subgraph view closes: its graph is a view of the root's
      return;
    }
    pending = false;
    if (fresh && !ready) {
      // Edits made while connecting (the editor showed the latest version meanwhile) go into the draft.
      const local = documentOf(store);
      if (canonical(local) !== canonical(known)) applyChanges(doc, known, local, origin);
    }
    const version = s.savedGraph;
    const graph = fromDocument(documentFromDoc(doc) as unknown as WorkflowDocument, s.baseCatalog);
    loading = true;
    try {
      if (fresh) {
        s.load(graph);
        // Unsaved changes: the draft differs from the latest version (someone edited since it was saved).
        const saved = toDocument(version, s.catalog);
        const draft = toDocument(graph, s.catalog);
        delete saved.layout?.viewport;
        delete draft.layout?.viewport;
        if (canonical(saved) !== canonical(draft)) store.setState({ savedGraph: version });
      } else {
        const gone = s.selectedNodes.filter((id) => !(id in graph.nodes) && id in s.graph.nodes);
        const now = Date.now();
        for (const [id, at] of edited) {
          if (now - at > EDITING_MS) edited.delete(id);
          else if (!(id in graph.nodes) && id in s.graph.nodes && !gone.includes(id)) gone.push(id);
        }
        store.setState({
          graph,
          // Subgraph definitions may have changed, and selected nodes may be gone.
          catalog: withSubgraphCatalog(s.baseCatalog, graph.subgraphs),
          selectedNodes: s.selectedNodes.filter((id) => id in graph.nodes),
        });
        if (gone.length) {
          for (const id of gone) edited.delete(id);
          const names = gone.map((id) => {
            const node = s.graph.nodes[id]!;
            const name = node.title || s.catalog.get(node.type)?.display_name || node.type;
            return `“${name}” (node ${id})`;
          });
          store
            .getState()
            .notify(
              "error",
              `${names.join(", ")} ${gone.length > 1 ? "were" : "was"} deleted by someone else while you worked on ${gone.length > 1 ? "them" : "it"}.`,
            );
        }
      }
    } finally {
      loading = false;
    }
    // What the editor now shows, as the editor writes it: later diffs hold only this person's changes.
    known = documentOf(store);
    ownIds();
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
    const now = Date.now();
    for (const [id, node] of Object.entries(state.graph.nodes))
      if (node !== previous.graph.nodes[id] && id in previous.graph.nodes) edited.set(id, now);
    applyChanges(doc, known, after, origin);
    known = after;
    ownIds();
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
      if (ready) store.setState({ ...history, idSpace: WHOLE_ID_SPACE });
    },
  };
}
