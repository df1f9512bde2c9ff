// A trigger's mapping table as text: one "body.field = node_id.input" per line (docs/webhooks.md).

export type MappingResult = { mapping: Record<string, string>; errors: string[] };

/** Parse the lines; blank lines and lines starting with # are skipped, bad lines are reported by number. */
export function parseMapping(text: string): MappingResult {
  const mapping: Record<string, string> = {};
  const errors: string[] = [];
  text.split("\n").forEach((raw, index) => {
    const line = raw.trim();
    if (!line || line.startsWith("#")) return;
    const [field, target, ...rest] = line.split("=").map((part) => part.trim());
    // "node_id.input", or an app input's name (no dot).
    const dot = target ? target.lastIndexOf(".") : -1;
    if (!field || !target || rest.length || dot === 0 || dot === target.length - 1) {
      errors.push(`Line ${index + 1}: expected "body.field = node_id.input".`);
      return;
    }
    mapping[field] = target;
  });
  return { mapping, errors };
}

export function formatMapping(mapping: Record<string, string>): string {
  return Object.entries(mapping)
    .map(([field, target]) => `${field} = ${target}`)
    .join("\n");
}

/** A curl command that fires the trigger with its secret and a JSON body. */
export function curlExample(url: string, secret: string, body: Record<string, unknown>): string {
  return [
    `curl -X POST ${url} \\`,
    `  -H "X-Trigger-Secret: ${secret}" -H "Content-Type: application/json" \\`,
    `  -d '${JSON.stringify(body)}'`,
  ].join("\n");
}

/** A sample body for a mapping: each mapped field set to a placeholder, nested along its dotted path. */
export function sampleBody(mapping: Record<string, string>): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const field of Object.keys(mapping)) {
    const parts = field.split(".");
    let cursor = body;
    parts.slice(0, -1).forEach((part) => {
      const next = cursor[part];
      cursor = (cursor[part] = typeof next === "object" && next !== null ? next : {}) as Record<string, unknown>;
    });
    cursor[parts[parts.length - 1] as string] = "…";
  }
  return body;
}
