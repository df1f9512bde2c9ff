// Keyboard shortcuts of the editor: one table drives the handler and the help panel.
export type ShortcutAction =
  | "undo"
  | "redo"
  | "copy"
  | "paste"
  | "duplicate"
  | "delete"
  | "save"
  | "run"
  | "bypass"
  | "mute"
  | "selectAll"
  | "search"
  | "help"
  | "fitView";

export interface Shortcut {
  action: ShortcutAction;
  keys: string;
  label: string;
}

export const SHORTCUTS: Shortcut[] = [
  { action: "undo", keys: "Ctrl+Z", label: "Undo" },
  { action: "redo", keys: "Ctrl+Y / Ctrl+Shift+Z", label: "Redo" },
  { action: "copy", keys: "Ctrl+C", label: "Copy selected nodes (works across tabs)" },
  { action: "paste", keys: "Ctrl+V", label: "Paste nodes at the pointer" },
  { action: "duplicate", keys: "Ctrl+D", label: "Duplicate selected nodes" },
  { action: "delete", keys: "Delete / Backspace", label: "Delete selected nodes and links" },
  { action: "save", keys: "Ctrl+S", label: "Save a new version" },
  { action: "run", keys: "Ctrl+Enter", label: "Queue a run" },
  { action: "bypass", keys: "Ctrl+B", label: "Bypass selected nodes (pass inputs through)" },
  { action: "mute", keys: "Ctrl+M", label: "Mute selected nodes (leave them out of runs)" },
  { action: "selectAll", keys: "Ctrl+A", label: "Select all" },
  { action: "search", keys: "Double-click canvas", label: "Search nodes to add at the pointer" },
  { action: "fitView", keys: "F", label: "Fit the graph in view" },
  { action: "help", keys: "?", label: "Show this help" },
];

/** The action for a key press (copy/paste go through clipboard events instead), or null. */
export function matchShortcut(
  e: Pick<KeyboardEvent, "key" | "ctrlKey" | "metaKey" | "shiftKey" | "altKey">,
): ShortcutAction | null {
  const mod = e.ctrlKey || e.metaKey;
  const key = e.key.toLowerCase();
  if (mod && !e.altKey) {
    if (key === "z") return e.shiftKey ? "redo" : "undo";
    if (key === "y") return "redo";
    if (key === "d") return "duplicate";
    if (key === "s") return "save";
    if (key === "enter") return "run";
    if (key === "b") return "bypass";
    if (key === "m") return "mute";
    if (key === "a") return "selectAll";
    return null;
  }
  if (e.altKey) return null;
  if (key === "delete" || key === "backspace") return "delete";
  if (e.key === "?") return "help";
  if (key === "f" && !e.shiftKey) return "fitView";
  return null;
}

/** Shortcuts that act even while typing in a field. */
export const GLOBAL_ACTIONS: ReadonlySet<ShortcutAction> = new Set(["save", "run"]);

export function isEditableTarget(target: EventTarget | null): boolean {
  if (!target || !(target instanceof HTMLElement)) return false;
  return target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName);
}
