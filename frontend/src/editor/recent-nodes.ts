// The node types this browser added most recently (localStorage), newest first: the node search ranks them
// higher among equally good matches.
const KEY = "flowyard.recentNodeTypes";
export const RECENT_LIMIT = 20;

export function readRecentNodeTypes(): string[] {
  try {
    const data: unknown = JSON.parse(window.localStorage.getItem(KEY) ?? "[]");
    return Array.isArray(data) ? data.filter((t): t is string => typeof t === "string").slice(0, RECENT_LIMIT) : [];
  } catch {
    return [];
  }
}

/** Record that a node of `type` was added (moves it to the front). */
export function rememberNodeType(type: string): void {
  try {
    const next = [type, ...readRecentNodeTypes().filter((t) => t !== type)].slice(0, RECENT_LIMIT);
    window.localStorage.setItem(KEY, JSON.stringify(next));
  } catch {
    // Storage refused (private mode): ranking simply ignores recent use.
  }
}
