// Co-editing in the editor of every saved workflow: connects the editor's store to the workflow's draft (editors
// write, viewers and runners watch it live), shows who else is there, and tells a reader that the server refused
// an edit. The editor's Save saves the draft as a version through `onProvider`'s provider (flush, then
// POST draft/save). A new, unsaved workflow has no draft and is edited alone.
import { useEffect, useState } from "react";
import * as Y from "yjs";
import { useSession } from "../app/session";
import { useEditorStoreApi } from "../editor/store-context";
import { bindEditorStore } from "./editor-binding";
import { colorFor, showPresence } from "./presence";
import { PresenceAvatars } from "./presence-avatars";
import { CoeditProvider, type ProviderStatus } from "./provider";
import { RemoteCursors } from "./remote-cursors";
import { localOrigin } from "./undo";
import { versionSavedHandler } from "./version-saved";

const STATUS_TEXT: Record<ProviderStatus, string> = {
  connecting: "connecting…",
  synced: "live",
  waiting: "reconnecting…",
  closed: "offline",
};

export function CoeditSession({
  workflowId,
  onProvider,
  onVersion,
}: {
  workflowId: number;
  /** The live provider once connecting has begun (null when it is gone): the editor's Save flushes it. */
  onProvider?: (provider: CoeditProvider | null) => void;
  /** A version saved by anyone became the latest (its document is then the store's saved graph). */
  onVersion?: (version: number) => void;
}) {
  const store = useEditorStoreApi();
  const { session } = useSession();
  const user = session.status === "signed-in" ? session.user : null;
  const [provider, setProvider] = useState<CoeditProvider | null>(null);
  const [status, setStatus] = useState<ProviderStatus>("connecting");

  useEffect(() => {
    if (!user) return;
    const doc = new Y.Doc();
    const binding = bindEditorStore(store, doc, localOrigin());
    let loaded = false;
    const versionSaved = versionSavedHandler({ workflowId, store, ...(onVersion ? { onVersion } : {}) });
    const live = new CoeditProvider({
      workflowId,
      doc,
      onStatus: (next) => {
        setStatus(next);
        if (next === "synced" && !loaded) {
          loaded = true;
          binding.loadFromDoc();
        }
      },
      onNotice: (notice) => {
        if (notice.type === "read_only") store.getState().notify("error", notice.message);
        if (notice.type === "version_saved") void versionSaved(notice);
      },
    });
    showPresence(live.awareness, { user: { id: user.id, name: user.username, color: colorFor(user.id) } });
    const unsubscribe = store.subscribe((s, previous) => {
      if (s.selectedNodes !== previous.selectedNodes) showPresence(live.awareness, { selection: s.selectedNodes });
    });
    let stopped = false;
    queueMicrotask(() => {
      if (stopped) return; // rendered once connecting has begun
      setProvider(live);
      onProvider?.(live);
    });
    return () => {
      stopped = true;
      unsubscribe();
      binding.destroy();
      live.destroy();
      doc.destroy();
      setProvider(null);
      onProvider?.(null);
    };
  }, [store, workflowId, user, onProvider, onVersion]);

  if (!provider) return null;
  return (
    <span className="coedit-session" title="Live co-editing: everyone here edits the same draft">
      <PresenceAvatars awareness={provider.awareness} />
      <RemoteCursors awareness={provider.awareness} />
      <span className="coedit-status">{STATUS_TEXT[status]}</span>
    </span>
  );
}
