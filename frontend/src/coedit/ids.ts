// Ids while co-editing: each tab numbers new nodes (and groups, notes, reroutes) in a range of its own, derived
// from its Yjs client id, so two people adding nodes at once never take the same id, with no round trip and no
// repair afterwards. Ids stay integers, as ComfyUI's are (export and import need nothing special): the range of
// client c is c·2^20 + 1 … c·2^20 + 2^20 − 1, below 2^53 for every 32-bit client id, so ids are exact in JSON
// and in JavaScript. Within its range a tab takes the next number after the highest one there, so a tab that
// gets a new client id from Yjs (it does on a clash) simply continues in another range. Links need no ids: a link
// is the input `[node, output]` it feeds (ComfyUI's link ids are numbered on export).
import type { IdSpace } from "../editor/graph-model";

export const RANGE_BITS = 20;
const RANGE = 2 ** RANGE_BITS;

export function clientIdSpace(clientID: number): IdSpace {
  return { first: clientID * RANGE + 1, last: clientID * RANGE + RANGE - 1 };
}
