// The node components React Flow renders: one from the schema, one for types that are not installed.
import {
  Handle,
  Position,
  useStore as useFlowStore,
  type NodeProps,
  type NodeTypes,
  type ReactFlowState,
} from "@xyflow/react";
import { memo } from "react";
import { useShallow } from "zustand/react/shallow";
import type { InputSpec, SeedControl } from "../../api/schemas";
import { linkedInputsOf } from "../flow-sync";
import { inHandle, outHandle, type MissingFlowNode, type SchemaFlowNode } from "../flow-types";
import { hiddenByChoice, isSocket, showsWidget } from "../graph-model";
import { useReadOnly } from "../read-only";
import { useEditorStore, useEditorStoreApi } from "../store-context";
import { nodeLook } from "../node-look";
import { isListType, typeColor } from "../type-colors";
import { InputIssue, NodeRunBadge, NodeRunDetails, useNodeRunClass } from "../../runs/editor-runs";
import { Widget } from "./widgets";

/** A handle's colour and shape; `faint` (the handle of an input shown as a widget) mixes the colour 70 % in. */
function handleStyle(type: string, faint = false) {
  const colour = typeColor(type);
  return {
    background: faint ? `color-mix(in srgb, ${colour} 70%, transparent)` : colour,
    borderRadius: isListType(type) ? 2 : "50%",
  };
}

/** Compact nodes (below COMPACT_ZOOM, node-look.ts) draw widget values as text instead of form controls. */
const selectCompact = (s: ReactFlowState) => nodeLook(s.transform[2]) !== "full";

/** A widget's value as plain text (compact nodes). */
function widgetText(spec: InputSpec, value: unknown, seedControl: SeedControl | undefined): string {
  const widget = spec.widget;
  if (widget?.kind === "toggle") return value ? widget.label_on : widget.label_off;
  if (widget?.kind === "seed") return `${String(value ?? 0)} · ${seedControl ?? widget.control_after_run}`;
  if (widget?.kind === "upload") return value ? String(value) : "(no file)";
  return value == null ? "" : String(value);
}

function InputRow({
  nodeId,
  spec,
  value,
  seedControl,
  socket,
  linked,
  disabled,
  compact,
}: {
  compact: boolean;
  nodeId: string;
  spec: InputSpec;
  value: unknown;
  seedControl: SeedControl | undefined;
  socket: boolean;
  linked: boolean;
  disabled: boolean;
}) {
  const store = useEditorStoreApi();
  const readOnly = useReadOnly();
  const convertible = spec.mode === "both" && !readOnly;
  const label = (
    <span
      className="fy-input-label"
      title={`${spec.tooltip ? spec.tooltip + " — " : ""}${spec.type}${spec.required ? " (required)" : ""}`}
    >
      {spec.name}
      {spec.required && !linked && socket ? <span className="fy-required">*</span> : null}
    </span>
  );
  return (
    <div className={`fy-row fy-input ${socket ? "is-socket" : "is-widget"}`} data-input={spec.name}>
      {spec.mode !== "widget" && (
        <Handle
          type="target"
          position={Position.Left}
          id={inHandle(spec.name)}
          className={socket ? "fy-handle" : "fy-handle fy-handle-small"}
          isConnectable={!readOnly}
          style={handleStyle(spec.type, !socket)}
          title={spec.type}
        />
      )}
      {label}
      {socket ? (
        <span className="fy-socket-type">{linked ? "" : spec.type}</span>
      ) : compact ? (
        <span
          className={
            spec.widget?.kind === "text" && spec.widget.multiline ? "fy-widget-compact multiline" : "fy-widget-compact"
          }
        >
          {widgetText(spec, value, seedControl)}
        </span>
      ) : (
        <Widget nodeId={nodeId} spec={spec} value={value} seedControl={seedControl} disabled={disabled} />
      )}
      {convertible && compact && (
        <span className="fy-convert" aria-hidden="true">
          {socket ? "⇠" : "⇢"}
        </span>
      )}
      {convertible && !compact && (
        <button
          type="button"
          className="fy-convert nodrag"
          title={socket ? "Show as a widget (drops the link)" : "Convert to a socket to link it"}
          aria-label={socket ? `Convert ${spec.name} to widget` : `Convert ${spec.name} to socket`}
          onClick={() => store.getState().setInputAsSocket(nodeId, spec.name, !socket)}
        >
          {socket ? "⇠" : "⇢"}
        </button>
      )}
    </div>
  );
}

/**
 * Node components re-render only when what they draw changes: React Flow also passes the measured size, the
 * absolute position and the z-index, which change after the first measurement and on every drag step; the view
 * reads none of them (its content comes from the store through per-node selectors).
 */
function sameView(
  a: NodeProps<SchemaFlowNode | MissingFlowNode>,
  b: NodeProps<SchemaFlowNode | MissingFlowNode>,
): boolean {
  return a.id === b.id && a.selected === b.selected && a.data === b.data;
}

export const SchemaNodeView = memo(function SchemaNodeView({ id, selected }: NodeProps<SchemaFlowNode>) {
  const node = useEditorStore((s) => s.graph.nodes[id]);
  const schema = useEditorStore((s) => (node ? s.catalog.get(node.type) : undefined));
  const linkedInputs = useEditorStore(useShallow((s) => linkedInputsOf(s.graph.edges, id)));
  const store = useEditorStoreApi();
  const renaming = useEditorStore((s) => s.renaming === id);
  const setRenaming = (on: boolean) => store.getState().setRenaming(on ? id : null);
  const runClass = useNodeRunClass(id);
  const compact = useFlowStore(selectCompact);
  const readOnly = useReadOnly();
  if (!node || !schema) return null;
  const hidden = hiddenByChoice(schema, node.values);
  const title = node.title ?? schema.display_name;
  const modeClass = node.mode === "normal" ? "" : ` mode-${node.mode}`;
  return (
    <div
      className={`fy-node${selected ? " selected" : ""}${modeClass}${schema.output_node ? " is-output" : ""}${runClass}`}
      data-testid={`node-${id}`}
    >
      <header
        className="fy-node-header"
        onDoubleClick={() => !readOnly && setRenaming(true)}
        title={schema.description || schema.type}
      >
        <button
          type="button"
          className="fy-collapse nodrag"
          aria-label={node.collapsed ? "Expand node" : "Collapse node"}
          disabled={readOnly}
          onClick={() => store.getState().setCollapsed(id, !node.collapsed)}
        >
          {node.collapsed ? "▸" : "▾"}
        </button>
        {renaming && !readOnly ? (
          <input
            className="nodrag fy-title-input"
            autoFocus
            defaultValue={title}
            aria-label="Node title"
            onBlur={(e) => {
              store.getState().setTitle(id, e.target.value === schema.display_name ? "" : e.target.value);
              setRenaming(false);
            }}
            onKeyDown={(e) => {
              if (e.key === "Enter") (e.target as HTMLInputElement).blur();
              if (e.key === "Escape") setRenaming(false);
            }}
          />
        ) : (
          <span className="fy-node-title">{title}</span>
        )}
        {node.mode !== "normal" && <span className="fy-mode-badge">{node.mode}</span>}
        <NodeRunBadge nodeId={id} />
      </header>
      <div className={node.collapsed ? "fy-node-body collapsed" : "fy-node-body"}>
        {schema.outputs.map((out, index) => (
          <div className="fy-row fy-output" key={out.name}>
            <span className="fy-output-label" title={`${out.tooltip ? out.tooltip + " — " : ""}${out.type}`}>
              {out.name}
            </span>
            <Handle
              type="source"
              position={Position.Right}
              id={outHandle(index)}
              className="fy-handle"
              style={handleStyle(out.type)}
              title={out.type}
              isConnectable={!readOnly}
            />
          </div>
        ))}
        {schema.inputs.map((spec) => {
          const socket = isSocket(spec, node) || !showsWidget(spec, node);
          if (node.collapsed && !socket) return null;
          if (hidden.has(spec.name) && !linkedInputs.includes(spec.name)) return null;
          return [
            <InputRow
              compact={compact}
              key={spec.name}
              nodeId={id}
              spec={spec}
              value={node.values[spec.name]}
              seedControl={node.seedControl?.[spec.name]}
              socket={socket}
              linked={linkedInputs.includes(spec.name)}
              disabled={node.mode === "mute"}
            />,
            <InputIssue key={`${spec.name}-issue`} nodeId={id} input={spec.name} />,
          ];
        })}
        {schema.deprecated && <div className="fy-deprecated">Deprecated: {schema.deprecated}</div>}
        <NodeRunDetails nodeId={id} />
      </div>
    </div>
  );
}, sameView);

export const MissingNodeView = memo(function MissingNodeView({ id, data, selected }: NodeProps<MissingFlowNode>) {
  const inputs = useEditorStore(useShallow((s) => linkedInputsOf(s.graph.edges, id)));
  const outputs = useEditorStore(
    useShallow((s) =>
      [...new Set(s.graph.edges.filter((e) => e.source === id).map((e) => e.sourceOutput))].sort((a, b) => a - b),
    ),
  );
  return (
    <div className={`fy-node fy-missing${selected ? " selected" : ""}`} data-testid={`node-${id}`}>
      <header className="fy-node-header">
        <span className="fy-node-title">{data.nodeType}</span>
      </header>
      <div className="fy-node-body">
        <p className="fy-missing-note">This node type is not installed. It is kept as is and saved unchanged.</p>
        {inputs.map((name) => (
          <div className="fy-row fy-input" key={name}>
            <Handle
              type="target"
              position={Position.Left}
              id={inHandle(name)}
              className="fy-handle"
              isConnectable={false}
            />
            <span className="fy-input-label">{name}</span>
          </div>
        ))}
        {outputs.map((index) => (
          <div className="fy-row fy-output" key={index}>
            <span className="fy-output-label">output {index + 1}</span>
            <Handle
              type="source"
              position={Position.Right}
              id={outHandle(index)}
              className="fy-handle"
              isConnectable={false}
            />
          </div>
        ))}
      </div>
    </div>
  );
}, sameView);

/** Defined once, outside any component, so React Flow never sees a new object. */
export const nodeTypes: NodeTypes = { schema: SchemaNodeView, missing: MissingNodeView };
