// When anyone saves a version of the co-edited workflow (the draft saved in another tab, a version posted, a
// restore), the document socket says so (`{"type": "version_saved", "version"}`, backend/coedit/consumers.py),
// after the updates stored before it. Each tab then learns the new latest version: it reads the version's document
// and compares it with what it shows, so the header's "•" (the draft differs from the latest version) clears when
// they are the same and stays when this tab holds edits the version lacks; runs from this tab start from it too.
import { workflows } from "../api/endpoints";
import type { WorkflowDocument } from "../api/schemas";
import { fromDocument, toDocument } from "../editor/serialization";
import type { EditorStore } from "../editor/store";
import { canonical } from "./editor-binding";

/** Make `document` (the latest version) the store's saved graph: the graph shown itself when it holds the same
 * content (no "•"), else the version's own graph (runs compare with it). The viewport is not content. */
export function showSavedVersion(store: EditorStore, document: WorkflowDocument): void {
  const s = store.getState();
  const version = fromDocument(document, s.baseCatalog);
  const saved = toDocument(version, s.catalog);
  const shown = toDocument(s.graphToSave(), s.catalog);
  delete saved.layout?.viewport;
  delete shown.layout?.viewport;
  store.setState({ savedGraph: canonical(saved) === canonical(shown) ? s.graph : version });
}

export async function fetchVersionDocument(workflowId: number, number: number): Promise<WorkflowDocument> {
  const v = await workflows.version(workflowId, number);
  if (v.document) return v.document;
  if (!v.graph) throw new Error(`Version ${number} came without its document.`);
  return { graph: v.graph, ...(v.layout ? { layout: v.layout } : {}) };
}

export interface VersionSavedOptions {
  workflowId: number;
  store: EditorStore;
  /** Told the new latest version once the store's saved graph is it (the header's "v<n>", runs). */
  onVersion?: (version: number) => void;
  fetchVersion?: (workflowId: number, version: number) => Promise<WorkflowDocument>;
}

/** The handler of `version_saved` notices: notices may come faster than the documents are read, so only the
 * newest one seen is applied. */
export function versionSavedHandler(options: VersionSavedOptions): (notice: { version: number }) => Promise<void> {
  const fetchVersion = options.fetchVersion ?? fetchVersionDocument;
  let latest = 0;
  return async ({ version }) => {
    if (version < latest) return;
    latest = version;
    let document: WorkflowDocument;
    try {
      document = await fetchVersion(options.workflowId, version);
    } catch (exc) {
      console.warn(`Could not read version ${version} saved by someone else:`, exc);
      return;
    }
    if (version !== latest) return; // a newer version was saved meanwhile
    showSavedVersion(options.store, document);
    options.onVersion?.(version);
  };
}
