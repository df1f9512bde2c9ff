// The picker of a `modelfiles.<kind>` select: the model library's files of that kind (name and size), filtered
// by a search box once the list is long; a current value no worker lists is kept and marked missing.
import { useMemo, useState } from "react";
import type { InputSpec } from "../../api/schemas";
import { formatBytes } from "../../workers/worker-format";
import { useModelFiles } from "../model-files";
import { useEditorStoreApi } from "../store-context";

/** Lists longer than this get a search box. */
export const SEARCH_FROM = 8;

interface Props {
  nodeId: string;
  spec: InputSpec;
  value: unknown;
  kind: string;
  disabled?: boolean | undefined;
}

export function ModelFileSelect({ nodeId, spec, value, kind, disabled }: Props) {
  const store = useEditorStoreApi();
  const { files, error } = useModelFiles(kind);
  const [query, setQuery] = useState("");
  const current = value == null ? "" : String(value);
  const known = files !== null && files.some((f) => f.name === current);
  const missing = Boolean(current) && files !== null && !known;
  const shown = useMemo(() => {
    const q = query.trim().toLowerCase();
    const all = files ?? [];
    return q ? all.filter((f) => f.name.toLowerCase().includes(q) || f.name === current) : all;
  }, [files, query, current]);
  const placeholder =
    files === null ? (error ? "(cannot list models)" : "loading…") : files.length ? "choose…" : `(no ${kind} models)`;
  return (
    <span className="fy-model-file nodrag">
      {files !== null && files.length > SEARCH_FROM && (
        <input
          type="search"
          aria-label={`search ${spec.name}`}
          placeholder={`search ${files.length} ${kind}…`}
          value={query}
          disabled={disabled}
          onChange={(e) => setQuery(e.target.value)}
        />
      )}
      <select
        aria-label={spec.name}
        value={current}
        disabled={disabled}
        title={error ?? `Files in the ${kind} folder of the model library`}
        onChange={(e) => store.getState().setWidgetValue(nodeId, spec.name, e.target.value)}
      >
        <option value="" disabled>
          {placeholder}
        </option>
        {current && !known && <option value={current}>{missing ? `${current} (missing)` : current}</option>}
        {shown.map((f) => (
          <option key={f.name} value={f.name}>
            {f.size_bytes != null ? `${f.name} (${formatBytes(f.size_bytes)})` : f.name}
          </option>
        ))}
      </select>
      {missing && <span className="fy-field-error">Not in the {kind} folder of any worker.</span>}
    </span>
  );
}
