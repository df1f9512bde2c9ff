// One widget per kind of node input (NodeSchema widget.kind). Values go straight to the store.
import { memo, useState, type ChangeEvent } from "react";
import type { InputSpec, NumberWidget, SeedControl, SelectWidget } from "../../api/schemas";
import { kindOfSource } from "../../uploads/uploads-api";
import { UploadField, UploadSelect } from "../../uploads/upload-widgets";
import { modelKindOfSource } from "../model-files";
import { useReadOnly } from "../read-only";
import { useEditorStoreApi } from "../store-context";
import { ModelFileSelect } from "./model-file-select";

export interface WidgetProps {
  nodeId: string;
  spec: InputSpec;
  value: unknown;
  seedControl?: SeedControl | undefined;
  disabled?: boolean;
}

const SEED_CONTROLS: SeedControl[] = ["randomize", "increment", "decrement", "fixed"];

function clampNumber(widget: NumberWidget, isInt: boolean, raw: number): number {
  let v = raw;
  if (widget.min != null) v = Math.max(widget.min, v);
  if (widget.max != null) v = Math.min(widget.max, v);
  if (isInt) v = Math.round(v);
  else if (widget.round) v = Math.round(v / widget.round) * widget.round;
  return v;
}

function NumberField({ nodeId, spec, value, widget, disabled }: WidgetProps & { widget: NumberWidget }) {
  const store = useEditorStoreApi();
  const isInt = spec.type === "INT";
  const current = typeof value === "number" ? value : Number(value ?? 0);
  // While typing, the box shows the raw text (e.g. "0." or ""); the store holds the last valid number.
  const [draft, setDraft] = useState<string | null>(null);
  const commit = (raw: string) => {
    const n = Number(raw);
    if (raw.trim() === "" || Number.isNaN(n)) return;
    store.getState().setWidgetValue(nodeId, spec.name, clampNumber(widget, isInt, n));
  };
  const step = widget.step ?? (isInt ? 1 : 0.01);
  return (
    <span className="fy-number">
      {widget.slider && widget.min != null && widget.max != null && (
        <input
          type="range"
          className="nodrag"
          aria-label={`${spec.name} slider`}
          min={widget.min}
          max={widget.max}
          step={step}
          value={current}
          disabled={disabled}
          onChange={(e) => commit(e.target.value)}
        />
      )}
      <input
        type="number"
        className="nodrag"
        aria-label={spec.name}
        min={widget.min ?? undefined}
        max={widget.max ?? undefined}
        step={step}
        value={draft ?? String(current)}
        disabled={disabled}
        onChange={(e) => {
          setDraft(e.target.value);
          commit(e.target.value);
        }}
        onBlur={() => setDraft(null)}
      />
    </span>
  );
}

function SelectField({ nodeId, spec, value, widget, disabled }: WidgetProps & { widget: SelectWidget }) {
  const store = useEditorStoreApi();
  const onChange = (e: ChangeEvent<HTMLSelectElement>) =>
    store.getState().setWidgetValue(nodeId, spec.name, e.target.value);
  const current = value == null ? "" : String(value);
  if (!widget.options && kindOfSource(widget.source)) {
    return <UploadSelect nodeId={nodeId} spec={spec} value={value} disabled={disabled} source={widget.source!} />;
  }
  const modelKind = widget.options ? null : modelKindOfSource(widget.source);
  if (modelKind) {
    return <ModelFileSelect nodeId={nodeId} spec={spec} value={value} disabled={disabled} kind={modelKind} />;
  }
  if (!widget.options) {
    // Options the server supplies (uploads, models): listed once the options API exists.
    return (
      <select
        className="nodrag"
        aria-label={spec.name}
        value={current}
        onChange={onChange}
        disabled={disabled}
        title={`Options come from the server (${widget.source ?? "unknown source"})`}
      >
        {current && <option value={current}>{current}</option>}
        <option value="" disabled>
          {`(options from ${widget.source ?? "server"})`}
        </option>
      </select>
    );
  }
  const options = widget.options.includes(current) || !current ? widget.options : [current, ...widget.options];
  return (
    <select className="nodrag" aria-label={spec.name} value={current} onChange={onChange} disabled={disabled}>
      {options.map((o) => (
        <option key={o} value={o}>
          {o}
        </option>
      ))}
    </select>
  );
}

export const Widget = memo(function Widget(given: WidgetProps) {
  // In a read-only canvas every widget is disabled, whatever its node's mode.
  const readOnly = useReadOnly();
  const props = readOnly ? { ...given, disabled: true } : given;
  const { nodeId, spec, value, disabled } = props;
  const store = useEditorStoreApi();
  const widget = spec.widget;
  const set = (v: unknown) => store.getState().setWidgetValue(nodeId, spec.name, v);
  if (!widget) return null;
  switch (widget.kind) {
    case "number":
      return <NumberField {...props} widget={widget} />;
    case "select":
      return <SelectField {...props} widget={widget} />;
    case "text":
      return widget.multiline ? (
        <textarea
          className="nodrag nowheel"
          aria-label={spec.name}
          placeholder={widget.placeholder}
          value={String(value ?? "")}
          rows={3}
          disabled={disabled}
          onChange={(e) => set(e.target.value)}
        />
      ) : (
        <input
          type="text"
          className="nodrag"
          aria-label={spec.name}
          placeholder={widget.placeholder}
          value={String(value ?? "")}
          disabled={disabled}
          onChange={(e) => set(e.target.value)}
        />
      );
    case "toggle":
      return (
        <label className="fy-toggle nodrag">
          <input
            type="checkbox"
            aria-label={spec.name}
            checked={Boolean(value)}
            disabled={disabled}
            onChange={(e) => set(e.target.checked)}
          />
          <span>{value ? widget.label_on : widget.label_off}</span>
        </label>
      );
    case "seed":
      return (
        <span className="fy-seed">
          <input
            type="number"
            className="nodrag"
            aria-label={spec.name}
            min={widget.min}
            max={widget.max}
            step={1}
            value={Number(value ?? 0)}
            disabled={disabled}
            onChange={(e) => {
              const n = Math.round(Number(e.target.value));
              if (!Number.isNaN(n)) set(Math.min(widget.max, Math.max(widget.min, n)));
            }}
          />
          <select
            className="nodrag"
            aria-label={`${spec.name} control after run`}
            value={props.seedControl ?? widget.control_after_run}
            disabled={disabled}
            onChange={(e) => store.getState().setSeedControl(nodeId, spec.name, e.target.value as SeedControl)}
          >
            {SEED_CONTROLS.map((c) => (
              <option key={c} value={c}>
                {c}
              </option>
            ))}
          </select>
        </span>
      );
    case "upload":
      return <UploadField {...props} />;
    case "color":
      return (
        <input
          type="color"
          className="nodrag"
          aria-label={spec.name}
          value={typeof value === "string" && /^#[0-9a-fA-F]{6}$/.test(value) ? value : "#000000"}
          disabled={disabled}
          onChange={(e) => set(e.target.value)}
        />
      );
  }
});
