// The app view's form state: initial values from the exposed inputs, and the JSON body a Run posts.
import type { FormInput } from "./apps-api";

/** What a form field holds: a value, or for a seed the "random" choice; files hold an upload id. */
export type FormValues = Record<string, unknown>;

export const RANDOM = "random";

export function initialValues(inputs: readonly FormInput[]): FormValues {
  const values: FormValues = {};
  for (const input of inputs) {
    if (input.kind === "seed") values[input.name] = RANDOM;
    else if (input.kind === "image" || input.kind === "file") values[input.name] = null;
    else if (input.default !== undefined && input.default !== null) values[input.name] = input.default;
    else if (input.kind === "toggle") values[input.name] = false;
    else if (input.kind === "number" || input.kind === "integer") values[input.name] = input.min ?? 0;
    else values[input.name] = "";
  }
  return values;
}

/** The body of POST /api/apps/<slug>/runs: files left empty keep the app's default (left out). */
export function requestBody(inputs: readonly FormInput[], values: FormValues): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const input of inputs) {
    const value = values[input.name];
    if (value === null || value === undefined) continue;
    if ((input.kind === "number" || input.kind === "integer") && typeof value === "string") {
      body[input.name] = value === "" ? undefined : Number(value);
      if (body[input.name] === undefined) delete body[input.name];
      continue;
    }
    body[input.name] = value;
  }
  return body;
}

/** Whether a number input gets a slider: both limits known and not too far apart for one. */
export function hasSlider(input: Pick<FormInput, "kind" | "min" | "max">): boolean {
  if (input.kind !== "number" && input.kind !== "integer") return false;
  return input.min !== null && input.max !== null && input.max - input.min <= 100_000;
}
