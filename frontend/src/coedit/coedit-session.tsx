// Co-editing in the editor, behind a flag (`?coedit=1` in the URL, or localStorage `flowyard.coedit` = "1"):
// connects the editor's store to the workflow's draft, shows who else is there, and tells a reader that the
// server refused an edit. Without the flag the editor loads and saves versions as before.
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

export function coeditEnabled(): boolean {
  try {
    return new URLSearchParams(window.location.search).has("coedit") || localStorage.getItem("flowyard.coedit") === "1";
  } catch {
    return false;
  }
}

const STATUS_TEXT: Record<ProviderStatus, string> = {
  connecting: "connecting…",
  synced: "live",
  waiting: "reconnecting…",
  closed: "offline",
};

export function CoeditSession({ workflowId }: { workflowId: number }) {
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
      },
    });
    showPresence(live.awareness, { user: { id: user.id, name: user.username, color: colorFor(user.id) } });
    const unsubscribe = store.subscribe((s, previous) => {
      if (s.selectedNodes !== previous.selectedNodes) showPresence(live.awareness, { selection: s.selectedNodes });
    });
    let stopped = false;
    queueMicrotask(() => !stopped && setProvider(live)); // rendered once connecting has begun
    return () => {
      stopped = true;
      unsubscribe();
      binding.destroy();
      live.destroy();
      doc.destroy();
      setProvider(null);
    };
  }, [store, workflowId, user]);

  if (!provider) return null;
  return (
    <span className="coedit-session" title="Live co-editing (preview)">
      <PresenceAvatars awareness={provider.awareness} />
      <RemoteCursors awareness={provider.awareness} />
      <span className="coedit-status">{STATUS_TEXT[status]}</span>
    </span>
  );
}
