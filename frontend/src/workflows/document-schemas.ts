// Node schemas guessed from a graph alone, for viewers who cannot load the node catalog (anonymous visitors of
// a public link: GET /api/nodes needs a signed-in user). Links become sockets, constants read-only text widgets.
import type { GraphJson, NodeSchema } from "../api/schemas";
import { looksLikeLink } from "../editor/serialization";
import { NAME_PATTERN, type AppSection } from "../apps/app-section";

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

/** A problem of a document's app section, named as the server names it (`layout.app.inputs.0.node`). */
export interface AppSectionProblem {
  field: string;
  message: string;
}

/** The app section's problems against its graph and the node catalog, as backend/workflows/documents.py
 * checks them on save: valid unique names, existing nodes, exposed inputs that are widgets (not links or
 * sockets), min ≤ max, outputs that are output nodes. Types missing from the catalog are not checked here. */
export function checkAppSection(
  section: AppSection,
  graph: GraphJson,
  schemaOf: (type: string) => NodeSchema | undefined,
): AppSectionProblem[] {
  const problems: AppSectionProblem[] = [];
  const problem = (field: string, message: string) => problems.push({ field: `layout.app.${field}`, message });
  const names = new Set<string>();
  section.inputs.forEach((item, index) => {
    const where = `inputs.${index}`;
    if (!NAME_PATTERN.test(item.name)) problem(`${where}.name`, `${JSON.stringify(item.name)} is not a valid name.`);
    if (names.has(item.name)) problem(`${where}.name`, `Input name ${JSON.stringify(item.name)} is used twice.`);
    names.add(item.name);
    if (item.min !== undefined && item.max !== undefined && item.min > item.max)
      problem(`${where}.min`, `Input ${JSON.stringify(item.name)}: min ${item.min} is above max ${item.max}.`);
    const node = graph.nodes[item.node];
    if (!node) {
      problem(`${where}.node`, `Input ${JSON.stringify(item.name)}: the graph has no node ${item.node}.`);
      return;
    }
    if (looksLikeLink(node.inputs[item.input])) {
      problem(`${where}.input`, `Input ${JSON.stringify(item.name)}: ${item.input} is fed by a link, not a widget.`);
      return;
    }
    const spec = schemaOf(node.type)?.inputs.find((i) => i.name === item.input);
    if (schemaOf(node.type) && (!spec || !spec.widget || spec.mode === "socket"))
      problem(`${where}.input`, `Input ${JSON.stringify(item.name)}: ${node.type}.${item.input} is not a widget.`);
  });
  const outputs = new Set<string>();
  section.outputs.forEach((item, index) => {
    const where = `outputs.${index}`;
    if (!NAME_PATTERN.test(item.name)) problem(`${where}.name`, `${JSON.stringify(item.name)} is not a valid name.`);
    if (outputs.has(item.name)) problem(`${where}.name`, `Output name ${JSON.stringify(item.name)} is used twice.`);
    outputs.add(item.name);
    const node = graph.nodes[item.node];
    if (!node) problem(`${where}.node`, `Output ${JSON.stringify(item.name)}: the graph has no node ${item.node}.`);
    else if (schemaOf(node.type) && !schemaOf(node.type)?.output_node)
      problem(`${where}.node`, `Output ${JSON.stringify(item.name)}: ${node.type} is not an output node.`);
  });
  return problems;
}
