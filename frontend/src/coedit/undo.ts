// Undo and redo per person: an UndoManager that tracks only this tab's own changes (their origin), so undoing
// never takes back what a collaborator did meanwhile.
import * as Y from "yjs";
import { roots } from "./doc-model";

/** Every local edit is made in a transaction with this origin (`doc.transact(fn, origin)`). */
export interface LocalOrigin {
  readonly kind: "local";
}

export function localOrigin(): LocalOrigin {
  return { kind: "local" };
}

export function createUndoManager(doc: Y.Doc, origin: LocalOrigin, captureTimeout = 500): Y.UndoManager {
  const parts = roots(doc);
  const scope = [parts.nodes, parts.groups, parts.notes, parts.reroutes, parts.app, parts.subgraphs, parts.meta];
  return new Y.UndoManager(scope, { trackedOrigins: new Set([origin]), captureTimeout });
}
