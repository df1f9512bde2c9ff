// The `app` section of a workflow document's layout (docs/apps.md): which widgets are the app's named inputs
// and which output nodes its outputs. Pure functions the editor's App panel and context menu edit it with.
import { z } from "zod";

export const appInputKinds = [
  "text",
  "prompt",
  "number",
  "integer",
  "seed",
  "select",
  "model",
  "toggle",
  "image",
  "file",
] as const;
export type AppInputKind = (typeof appInputKinds)[number];

export const appInputSchema = z.object({
  name: z.string(),
  node: z.string(),
  input: z.string(),
  label: z.string().optional(),
  help: z.string().optional(),
  min: z.number().optional(),
  max: z.number().optional(),
  step: z.number().optional(),
  default: z.unknown().optional(),
  kind: z.enum(appInputKinds).optional(),
});
export type AppInput = z.infer<typeof appInputSchema>;
export const appOutputSchema = z.object({ name: z.string(), node: z.string(), label: z.string().optional() });
export type AppOutput = z.infer<typeof appOutputSchema>;
export const appSectionSchema = z.object({
  inputs: z.array(appInputSchema).default([]),
  outputs: z.array(appOutputSchema).default([]),
});
export type AppSection = z.infer<typeof appSectionSchema>;

export const NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function emptySection(): AppSection {
  return { inputs: [], outputs: [] };
}

/** A free name from `base` (made a valid identifier): `seed`, `seed_2`, `seed_3`… */
export function freeName(base: string, taken: Iterable<string>): string {
  let stem = base.replace(/[^A-Za-z0-9_]/g, "_").replace(/^(?=[0-9])/, "_") || "input";
  stem = stem.slice(0, 60);
  const used = new Set(taken);
  if (!used.has(stem)) return stem;
  for (let n = 2; ; n += 1) if (!used.has(`${stem}_${n}`)) return `${stem}_${n}`;
}

export function isInputExposed(section: AppSection | undefined, node: string, input: string): boolean {
  return Boolean(section?.inputs.some((i) => i.node === node && i.input === input));
}

export function isOutputExposed(section: AppSection | undefined, node: string): boolean {
  return Boolean(section?.outputs.some((o) => o.node === node));
}

export function exposeInput(section: AppSection | undefined, node: string, input: string): AppSection {
  const base = section ?? emptySection();
  if (isInputExposed(base, node, input)) return base;
  const name = freeName(
    input,
    base.inputs.map((i) => i.name),
  );
  return { ...base, inputs: [...base.inputs, { name, node, input }] };
}

export function unexposeInput(section: AppSection | undefined, node: string, input: string): AppSection {
  const base = section ?? emptySection();
  return { ...base, inputs: base.inputs.filter((i) => !(i.node === node && i.input === input)) };
}

export function exposeOutput(section: AppSection | undefined, node: string, label?: string): AppSection {
  const base = section ?? emptySection();
  if (isOutputExposed(base, node)) return base;
  const name = freeName(
    label ? label.toLowerCase() : `output_${node}`,
    base.outputs.map((o) => o.name),
  );
  return { ...base, outputs: [...base.outputs, { name, node }] };
}

export function unexposeOutput(section: AppSection | undefined, node: string): AppSection {
  const base = section ?? emptySection();
  return { ...base, outputs: base.outputs.filter((o) => o.node !== node) };
}

/** Replace input `index` by `patch` applied to it; fields set to undefined or "" are dropped. */
export function updateInput(section: AppSection, index: number, patch: Partial<AppInput>): AppSection {
  const inputs = section.inputs.map((item, i) => (i === index ? compact({ ...item, ...patch }) : item));
  return { ...section, inputs };
}

export function updateOutput(section: AppSection, index: number, patch: Partial<AppOutput>): AppSection {
  const outputs = section.outputs.map((item, i) => (i === index ? compact({ ...item, ...patch }) : item));
  return { ...section, outputs };
}

/** Drop the inputs and outputs whose node is gone (a deleted node must not block the next save). */
export function pruneSection(section: AppSection, nodeIds: ReadonlySet<string>): AppSection {
  return {
    inputs: section.inputs.filter((i) => nodeIds.has(i.node)),
    outputs: section.outputs.filter((o) => nodeIds.has(o.node)),
  };
}

function compact<T extends object>(item: T): T {
  return Object.fromEntries(Object.entries(item).filter(([, v]) => v !== undefined && v !== "")) as T;
}
