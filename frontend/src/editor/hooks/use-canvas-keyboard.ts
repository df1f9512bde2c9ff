// The editor's keyboard shortcuts (shortcuts.ts): a read-only canvas keeps those that edit nothing, and typing in
// a field keeps its keys except for the global ones (save, run).
import { useReactFlow } from "@xyflow/react";
import { useEffect } from "react";
import type { AppEdge, AppNode } from "../flow-types";
import { GLOBAL_ACTIONS, isEditableTarget, matchShortcut } from "../shortcuts";
import { useEditorStoreApi } from "../store-context";

/** Shortcuts a read-only canvas keeps: none of them edits (Run is offered only to roles that may run). */
export const READ_ONLY_ACTIONS: ReadonlySet<string> = new Set(["fitView", "help", "selectAll", "run"]);

export interface CanvasKeyboardOptions {
  readOnly: boolean;
  onSave?: (() => void) | undefined;
  onRun?: (() => void) | undefined;
  toggleHelp: () => void;
}

export function useCanvasKeyboard({ readOnly, onSave, onRun, toggleHelp }: CanvasKeyboardOptions) {
  const store = useEditorStoreApi();
  const flow = useReactFlow<AppNode, AppEdge>();
  useEffect(() => {
    const onKeyDown = (e: KeyboardEvent) => {
      const action = matchShortcut(e);
      if (!action) return;
      if (readOnly && !READ_ONLY_ACTIONS.has(action)) return;
      if (isEditableTarget(e.target) && !GLOBAL_ACTIONS.has(action)) return;
      const s = store.getState();
      e.preventDefault();
      switch (action) {
        case "undo":
          return s.undo();
        case "redo":
          return s.redo();
        case "duplicate":
          return s.duplicateSelection();
        case "delete":
          return s.deleteSelection();
        case "save":
          return onSave?.();
        case "run":
          return onRun?.();
        case "bypass":
          return s.toggleMode("bypass");
        case "mute":
          return s.toggleMode("mute");
        case "selectAll":
          return s.selectAll();
        case "help":
          return toggleHelp();
        case "fitView":
          return void flow.fitView({ padding: 0.2, maxZoom: 1, duration: 200 });
        default:
          return;
      }
    };
    window.addEventListener("keydown", onKeyDown);
    return () => window.removeEventListener("keydown", onKeyDown);
  }, [store, flow, onSave, onRun, readOnly, toggleHelp]);
}
