// The editor's App panel: the exposed inputs and outputs of this workflow (label, help, limits, default), the
// problems the server would refuse on save, and publishing the saved version as an app (docs/apps.md).
import { useState, type FormEvent } from "react";
import { Link } from "react-router";
import { errorMessage } from "../api/client";
import type { WorkflowDetail } from "../api/schemas";
import { useAsync } from "../app/use-async";
import { toDocument } from "../editor/serialization";
import { useEditorStore, useEditorStoreApi } from "../editor/store-context";
import { checkAppSection } from "../workflows/document-schemas";
import { appInputKinds, emptySection, updateInput, updateOutput, type AppInput, type AppSection } from "./app-section";
import { appsApi } from "./apps-api";
import "./apps.css";

function numberOrUndefined(text: string): number | undefined {
  if (text.trim() === "") return undefined;
  const value = Number(text);
  return Number.isFinite(value) ? value : undefined;
}

/** A typed default: a number or a boolean where the widget holds one, else the text as written. */
export function defaultFrom(text: string, current: unknown): unknown {
  if (text === "") return undefined;
  if (typeof current === "number") return numberOrUndefined(text) ?? text;
  if (typeof current === "boolean") return text === "true";
  return text;
}

export function AppPanel({
  workflow,
  version,
  onClose,
}: {
  workflow: WorkflowDetail | null;
  version: number | null;
  onClose(): void;
}) {
  const store = useEditorStoreApi();
  const section = useEditorStore((s) => s.graph.app) ?? emptySection();
  const graph = useEditorStore((s) => s.graph);
  const catalog = useEditorStore((s) => s.catalog);
  const inSubgraph = useEditorStore((s) => s.subgraphPath.length > 0);
  const canEdit = workflow?.permissions?.edit ?? true;
  const set = (next: AppSection, coalesce?: string) => store.getState().change((g) => ({ ...g, app: next }), coalesce);
  const problems = inSubgraph ? [] : checkAppSection(section, toDocument(graph, catalog).graph, (t) => catalog.get(t));
  const nodeLabel = (id: string) => {
    const node = graph.nodes[id];
    return node ? `${node.title || catalog.get(node.type)?.display_name || node.type} #${id}` : `#${id}`;
  };
  const editInput = (index: number, field: keyof AppInput) => (value: unknown) =>
    set(updateInput(section, index, { [field]: value }), `app-input-${index}-${field}`);
  return (
    <aside className="fy-side-panel fy-app-panel" aria-label="App">
      <header>
        <h2>App</h2>
        <button type="button" onClick={onClose} aria-label="Close the app panel">
          ×
        </button>
      </header>
      {inSubgraph && <p className="fy-hint">Close the subgraph to edit the app.</p>}
      <p className="fy-hint">
        Right-click a node: “Expose … as app input” on a widget, “Show as app output” on an output node. Saved with the
        workflow.
      </p>
      <h3>Inputs</h3>
      {!section.inputs.length && <p className="fy-empty">No inputs exposed.</p>}
      {section.inputs.map((item, index) => (
        <fieldset key={`${item.node}/${item.input}`} disabled={!canEdit || inSubgraph} data-app-input={item.name}>
          <legend>
            {nodeLabel(item.node)} · {item.input}
          </legend>
          <div className="fy-app-row">
            <label>
              Name
              <input value={item.name} onChange={(e) => editInput(index, "name")(e.target.value)} />
            </label>
            <label>
              Label
              <input value={item.label ?? ""} onChange={(e) => editInput(index, "label")(e.target.value)} />
            </label>
            <label>
              Kind
              <select value={item.kind ?? ""} onChange={(e) => editInput(index, "kind")(e.target.value || undefined)}>
                <option value="">(from the widget)</option>
                {appInputKinds.map((kind) => (
                  <option key={kind} value={kind}>
                    {kind}
                  </option>
                ))}
              </select>
            </label>
            {(["min", "max", "step"] as const).map((field) => (
              <label key={field}>
                {field}
                <input
                  type="number"
                  value={item[field] ?? ""}
                  onChange={(e) => editInput(index, field)(numberOrUndefined(e.target.value))}
                />
              </label>
            ))}
          </div>
          <label>
            Help
            <input value={item.help ?? ""} onChange={(e) => editInput(index, "help")(e.target.value)} />
          </label>
          <label>
            Default (empty: the widget's value)
            <input
              value={item.default === undefined || item.default === null ? "" : String(item.default)}
              onChange={(e) =>
                editInput(index, "default")(defaultFrom(e.target.value, graph.nodes[item.node]?.values[item.input]))
              }
            />
          </label>
          <button
            type="button"
            onClick={() => set({ ...section, inputs: section.inputs.filter((_, i) => i !== index) })}
          >
            Remove
          </button>
        </fieldset>
      ))}
      <h3>Outputs</h3>
      {!section.outputs.length && <p className="fy-empty">No outputs: every output node's results are shown.</p>}
      {section.outputs.map((item, index) => (
        <fieldset key={item.node} disabled={!canEdit || inSubgraph} data-app-output={item.name}>
          <legend>{nodeLabel(item.node)}</legend>
          <div className="fy-app-row">
            <label>
              Name
              <input
                value={item.name}
                onChange={(e) => set(updateOutput(section, index, { name: e.target.value }), `app-output-${index}`)}
              />
            </label>
            <label>
              Label
              <input
                value={item.label ?? ""}
                onChange={(e) => set(updateOutput(section, index, { label: e.target.value }), `app-label-${index}`)}
              />
            </label>
          </div>
          <button
            type="button"
            onClick={() => set({ ...section, outputs: section.outputs.filter((_, i) => i !== index) })}
          >
            Remove
          </button>
        </fieldset>
      ))}
      {problems.length > 0 && (
        <ul className="fy-form-error" aria-label="App problems">
          {problems.map((p) => (
            <li key={`${p.field}:${p.message}`}>{p.message}</li>
          ))}
        </ul>
      )}
      {workflow ? (
        <PublishSection workflow={workflow} version={version} canEdit={canEdit} />
      ) : (
        <p className="fy-hint">Save the workflow to publish it as an app.</p>
      )}
    </aside>
  );
}

function PublishSection({
  workflow,
  version,
  canEdit,
}: {
  workflow: WorkflowDetail;
  version: number | null;
  canEdit: boolean;
}) {
  const store = useEditorStoreApi();
  const [reload, setReload] = useState(0);
  const apps = useAsync(() => appsApi.list(workflow.workspace), [workflow.workspace, reload]);
  const [slug, setSlug] = useState(() =>
    workflow.name
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-|-$/g, ""),
  );
  const [visibility, setVisibility] = useState<"workspace" | "public">("workspace");
  const [error, setError] = useState<string | null>(null);
  const mine = apps.status === "ready" ? apps.data.filter((a) => a.workflow === workflow.id) : [];
  const publish = (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    if (store.getState().isDirty()) {
      setError("Save first: an app runs a saved version.");
      return;
    }
    appsApi
      .publish({ workflow: workflow.id, ...(version ? { version } : {}), slug, title: workflow.name, visibility })
      .then(
        () => setReload((r) => r + 1),
        (exc: unknown) => setError(errorMessage(exc)),
      );
  };
  const repin = (appSlug: string) => {
    if (!version) return;
    appsApi.update(appSlug, { version }).then(
      () => setReload((r) => r + 1),
      (exc: unknown) => setError(errorMessage(exc)),
    );
  };
  return (
    <section aria-label="Publish">
      <h3>Published apps</h3>
      {mine.map((app) => (
        <p key={app.slug}>
          <Link to={`/apps/${app.slug}`}>/apps/{app.slug}</Link> v{app.version} · {app.visibility}
          {canEdit && version !== null && app.version !== version && (
            <button type="button" onClick={() => repin(app.slug)}>
              Pin v{version}
            </button>
          )}
        </p>
      ))}
      {canEdit && (
        <form className="fy-inline-form" onSubmit={publish} aria-label="Publish as app">
          <input aria-label="App slug" value={slug} onChange={(e) => setSlug(e.target.value)} placeholder="slug" />
          <select
            aria-label="Visibility"
            value={visibility}
            onChange={(e) => setVisibility(e.target.value === "public" ? "public" : "workspace")}
          >
            <option value="workspace">workspace members</option>
            <option value="public">public (rate-limited)</option>
          </select>
          <button type="submit">Publish v{version ?? "?"}</button>
        </form>
      )}
      {error && (
        <p className="fy-form-error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}
