// A colour per value type, stable across sessions: fixed for built-in types, hashed for pack types.
import { parseType } from "./type-compat";

const FIXED: Record<string, string> = {
  IMAGE: "#64b5f6",
  MASK: "#81c784",
  INT: "#4db6ac",
  FLOAT: "#aed581",
  STRING: "#ffb74d",
  BOOLEAN: "#f06292",
  AUDIO: "#ba68c8",
  VIDEO: "#ff8a65",
  MESH: "#a1887f",
  JSON: "#90a4ae",
  ANY: "#bdbdbd",
};

function hash(text: string): number {
  let h = 0x811c9dc5; // FNV-1a
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The colour of a type; a union takes its first alternative's colour, `LIST[X]` takes X's. */
export function typeColor(type: string): string {
  let first = type;
  try {
    first = [...parseType(type)].sort()[0] ?? type;
  } catch {
    // malformed: hash the raw text
  }
  while (first.startsWith("LIST[") && first.endsWith("]")) first = first.slice(5, -1).split("|")[0] ?? first;
  return FIXED[first] ?? `hsl(${hash(first) % 360} 55% 62%)`;
}

/** True when the type is a list (drawn with a square handle). */
export function isListType(type: string): boolean {
  return type.startsWith("LIST[");
}
