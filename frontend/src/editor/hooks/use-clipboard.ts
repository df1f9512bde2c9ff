// Copy and paste of nodes: the document's copy and paste events (Ctrl+C / Ctrl+V), pasted where the pointer is,
// and the canvas menu's Paste, which falls back to the last nodes copied here when the page may not read the
// clipboard.
import { useReactFlow } from "@xyflow/react";
import { useCallback, useEffect, useRef, type MouseEvent as ReactMouseEvent } from "react";
import type { AppEdge, AppNode } from "../flow-types";
import type { Position } from "../graph-model";
import { isEditableTarget } from "../shortcuts";
import { useEditorStoreApi } from "../store-context";

export function useClipboard(readOnly: boolean) {
  const store = useEditorStoreApi();
  const flow = useReactFlow<AppNode, AppEdge>();
  /** The pointer's last place over the canvas, in flow coordinates: where Ctrl+V pastes. */
  const pointer = useRef<Position | null>(null);
  /** The last nodes copied here: what the menu's Paste uses when the page may not read the clipboard. */
  const lastCopied = useRef<string | null>(null);

  const trackPointer = useCallback(
    (e: ReactMouseEvent) => {
      pointer.current = flow.screenToFlowPosition({ x: e.clientX, y: e.clientY });
    },
    [flow],
  );

  useEffect(() => {
    const onCopy = (e: ClipboardEvent) => {
      if (isEditableTarget(e.target) || window.getSelection()?.toString()) return;
      const text = store.getState().copySelection();
      if (!text || !e.clipboardData) return;
      e.clipboardData.setData("text/plain", text);
      lastCopied.current = text;
      e.preventDefault();
    };
    const onPaste = (e: ClipboardEvent) => {
      if (readOnly || isEditableTarget(e.target)) return;
      const text = e.clipboardData?.getData("text/plain");
      if (!text) return;
      const at = pointer.current ?? undefined;
      if (store.getState().paste(text, at)) e.preventDefault();
    };
    document.addEventListener("copy", onCopy);
    document.addEventListener("paste", onPaste);
    return () => {
      document.removeEventListener("copy", onCopy);
      document.removeEventListener("paste", onPaste);
    };
  }, [store, readOnly]);

  /** Paste the clipboard's nodes (else the last copied here) at `at`; says so when there is nothing to paste. */
  const pasteAt = useCallback(
    (at: Position | undefined) => {
      const fromClipboard = navigator.clipboard?.readText
        ? navigator.clipboard.readText().catch(() => null)
        : Promise.resolve(null);
      void fromClipboard.then((text) => {
        const s = store.getState();
        if (text && s.paste(text, at)) return;
        if (lastCopied.current && s.paste(lastCopied.current, at)) return;
        s.notify("info", "Nothing to paste: copy nodes first (Ctrl+C).");
      });
    },
    [store],
  );

  return { trackPointer, pasteAt };
}
