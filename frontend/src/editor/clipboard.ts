// Copy/paste format: JSON text on the system clipboard, so a copy in one tab pastes in another.
import { z } from "zod";
import { seedControlSchema } from "../api/schemas";
import type { Fragment } from "./graph-model";

const MARK = "flowyard/nodes@1";

const fragmentSchema = z.object({
  kind: z.literal(MARK),
  nodes: z.array(
    z.object({
      id: z.string(),
      type: z.string(),
      position: z.object({ x: z.number(), y: z.number() }),
      values: z.record(z.string(), z.unknown()),
      sockets: z.array(z.string()),
      mode: z.enum(["normal", "bypass", "mute"]),
      title: z.string().optional(),
      width: z.number().optional(),
      height: z.number().optional(),
      collapsed: z.boolean().optional(),
      seedControl: z.record(z.string(), seedControlSchema).optional(),
    }),
  ),
  edges: z.array(
    z.object({
      id: z.string(),
      source: z.string(),
      sourceOutput: z.number(),
      target: z.string(),
      targetInput: z.string(),
    }),
  ),
});

export function serializeFragment(fragment: Fragment): string {
  return JSON.stringify({ kind: MARK, nodes: fragment.nodes, edges: fragment.edges });
}

/** The fragment in clipboard text, or null when the text is not Flowyard nodes. */
export function parseFragment(text: string): Fragment | null {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return null;
  }
  const parsed = fragmentSchema.safeParse(data);
  if (!parsed.success) return null;
  return {
    nodes: parsed.data.nodes.map((n) => {
      const { title, width, height, collapsed, seedControl, ...rest } = n;
      return {
        ...rest,
        ...(title !== undefined ? { title } : {}),
        ...(width !== undefined ? { width } : {}),
        ...(height !== undefined ? { height } : {}),
        ...(collapsed !== undefined ? { collapsed } : {}),
        ...(seedControl !== undefined ? { seedControl } : {}),
      };
    }),
    edges: parsed.data.edges,
  };
}
