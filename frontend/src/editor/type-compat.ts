// A port of nodepacks/sdk/types.py: parse, normalize and is_compatible (the rule the engine enforces).
export const ANY_TYPE = "ANY";
export const JSON_TYPE = "JSON";

const NAME = /^[A-Z][A-Z0-9_]*(\.[A-Z][A-Z0-9_]*)*$/;

export class TypeSpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TypeSpecError";
  }
}

const parseCache = new Map<string, ReadonlySet<string>>();

/** The alternatives of a type string, each normalised (`LIST[X]` kept as one alternative). */
export function parseType(spec: string): ReadonlySet<string> {
  const cached = parseCache.get(spec);
  if (cached) return cached;
  const text = spec.replaceAll(" ", "");
  if (!text) throw new TypeSpecError("empty type");
  const alternatives: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (char === "[") depth += 1;
    else if (char === "]") {
      depth -= 1;
      if (depth < 0) throw new TypeSpecError(`unbalanced brackets in type '${spec}'`);
    } else if (char === "|" && depth === 0) {
      alternatives.push(text.slice(start, i));
      start = i + 1;
    }
  }
  if (depth !== 0) throw new TypeSpecError(`unbalanced brackets in type '${spec}'`);
  alternatives.push(text.slice(start));
  const result = new Set<string>();
  for (const alt of alternatives) {
    if (alt.startsWith("LIST[") && alt.endsWith("]")) result.add(`LIST[${normalizeType(alt.slice(5, -1))}]`);
    else if (NAME.test(alt)) result.add(alt);
    else throw new TypeSpecError(`invalid type '${alt}' in '${spec}'`);
  }
  parseCache.set(spec, result);
  return result;
}

/** The canonical spelling of a type string (alternatives sorted, as Python's `sorted`). */
export function normalizeType(spec: string): string {
  return [...parseType(spec)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).join("|");
}

/**
 * True when a value of `outputType` may feed an input of `inputType`: ANY on either side matches; unions
 * match when some alternative of the output is accepted by the input; lists match element-wise.
 */
export function isCompatible(outputType: string, inputType: string): boolean {
  const outAlts = parseType(outputType);
  const inAlts = parseType(inputType);
  if (outAlts.has(ANY_TYPE) || inAlts.has(ANY_TYPE)) return true;
  for (const outAlt of outAlts) {
    for (const inAlt of inAlts) {
      if (outAlt === inAlt) return true;
      const bothLists = outAlt.startsWith("LIST[") && inAlt.startsWith("LIST[");
      if (bothLists && isCompatible(outAlt.slice(5, -1), inAlt.slice(5, -1))) return true;
    }
  }
  return false;
}

/** Like isCompatible but false (never throwing) for malformed type strings. */
export function isCompatibleSafe(outputType: string, inputType: string): boolean {
  try {
    return isCompatible(outputType, inputType);
  } catch {
    return false;
  }
}
