// Node schemas guessed from a graph alone, for viewers who cannot load the node catalog (anonymous visitors of
// a public link: GET /api/nodes needs a signed-in user). Links become sockets, constants read-only text widgets.
import type { GraphJson, NodeSchema } from "../api/schemas";
import { looksLikeLink } from "../editor/serialization";

function displayName(type: string): string {
  return type.replace(/([a-z0-9])([A-Z])/g, "$1 $2");
}

export function schemasFromGraph(graph: GraphJson): NodeSchema[] {
  const outputs = new Map<string, number>();
  for (const node of Object.values(graph.nodes)) {
    for (const value of Object.values(node.inputs)) {
      if (!looksLikeLink(value)) continue;
      const source = graph.nodes[value[0]];
      if (source) outputs.set(source.type, Math.max(outputs.get(source.type) ?? 0, value[1] + 1));
    }
  }
  const byType = new Map<string, NodeSchema>();
  for (const node of Object.values(graph.nodes)) {
    const known = byType.get(node.type);
    const names = new Set(known?.inputs.map((i) => i.name) ?? []);
    const inputs = [...(known?.inputs ?? [])];
    for (const [name, value] of Object.entries(node.inputs)) {
      if (names.has(name)) continue;
      names.add(name);
      const link = looksLikeLink(value);
      inputs.push({
        name,
        type: "*",
        required: false,
        mode: link ? "socket" : "both",
        has_default: false,
        tooltip: "",
        widget: { kind: "text", multiline: false, placeholder: "" },
      });
    }
    const outCount = outputs.get(node.type) ?? 0;
    byType.set(node.type, {
      type: node.type,
      display_name: displayName(node.type),
      category: "shared",
      description: "",
      version: "1",
      output_node: outCount === 0,
      non_deterministic: false,
      requires_gpu: false,
      memory_mb: 0,
      inputs,
      outputs: Array.from({ length: outCount }, (_, i) => ({ name: `output ${i + 1}`, type: "*", tooltip: "" })),
    });
  }
  return [...byType.values()];
}
