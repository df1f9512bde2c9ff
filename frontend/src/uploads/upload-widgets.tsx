// Upload widgets of the editor: pick an uploaded file by name or upload a new one (thumbnail shown), and
// selects whose options are the workspace's uploads (`source: uploads.image | video | audio | file`).
import { useState, type ChangeEvent } from "react";
import { errorMessage } from "../api/client";
import type { InputSpec } from "../api/schemas";
import { useEditorStoreApi } from "../editor/store-context";
import { useEditorRuns } from "../runs/editor-runs";
import { kindOfSource, thumbnailUrl, uploadsApi, uploadWidgetKind } from "./uploads-api";
import { refreshUploads, useUploads } from "./use-uploads";

interface Props {
  nodeId: string;
  spec: InputSpec;
  value: unknown;
  disabled?: boolean | undefined;
}

/** The options a select shows: the uploads' names, plus the current value even when it is not (or no longer) there. */
export function uploadOptions(names: readonly string[], current: string): string[] {
  return current && !names.includes(current) ? [current, ...names] : [...names];
}

export function UploadSelect({ nodeId, spec, value, disabled, source }: Props & { source: string }) {
  const store = useEditorStoreApi();
  const workspace = useEditorRuns((s) => s.workspaceId);
  const kind = kindOfSource(source) ?? "all";
  const { uploads, error } = useUploads(workspace, kind);
  const current = value == null ? "" : String(value);
  const options = uploadOptions(uploads?.map((u) => u.name) ?? [], current);
  return (
    <select
      className="nodrag"
      aria-label={spec.name}
      value={current}
      disabled={disabled}
      title={error ?? undefined}
      onChange={(e: ChangeEvent<HTMLSelectElement>) =>
        store.getState().setWidgetValue(nodeId, spec.name, e.target.value)
      }
    >
      <option value="" disabled>
        {uploads === null
          ? workspace === null
            ? "(sign in to list uploads)"
            : "loading…"
          : options.length
            ? "choose…"
            : "(no uploads yet)"}
      </option>
      {options.map((o) => (
        <option key={o} value={o}>
          {o}
        </option>
      ))}
    </select>
  );
}

export function UploadField({ nodeId, spec, value, disabled }: Props) {
  const store = useEditorStoreApi();
  const workspace = useEditorRuns((s) => s.workspaceId);
  const widget = spec.widget?.kind === "upload" ? spec.widget : null;
  const accepted = uploadWidgetKind(widget?.accept);
  const { uploads } = useUploads(workspace, accepted.list);
  const [busy, setBusy] = useState(false);
  const current = value == null ? "" : String(value);
  const selected = uploads?.find((u) => u.name === current) ?? null;
  const options = uploadOptions(uploads?.map((u) => u.name) ?? [], current);
  const upload = async (file: File) => {
    if (workspace === null) {
      store.getState().notify("error", "Sign in to upload files.");
      return;
    }
    setBusy(true);
    try {
      const created = await uploadsApi.upload(workspace, file, accepted.kind);
      store.getState().setWidgetValue(nodeId, spec.name, created.name);
      refreshUploads(workspace);
      if (created.name !== file.name) store.getState().notify("info", `Uploaded as "${created.name}".`);
    } catch (exc) {
      store.getState().notify("error", `Upload failed: ${errorMessage(exc)}`);
    } finally {
      setBusy(false);
    }
  };
  return (
    <span className="fy-upload nodrag">
      <span className="fy-upload-row">
        <select
          aria-label={spec.name}
          value={current}
          disabled={disabled}
          onChange={(e) => store.getState().setWidgetValue(nodeId, spec.name, e.target.value)}
        >
          <option value="" disabled>
            {options.length ? "choose…" : "no file"}
          </option>
          {options.map((o) => (
            <option key={o} value={o}>
              {o}
            </option>
          ))}
        </select>
        <label className="fy-button" title="Upload a file into this workspace">
          {busy ? "…" : "Upload"}
          <input
            type="file"
            hidden
            aria-label={`Upload ${spec.name}`}
            accept={accepted.fileTypes}
            disabled={disabled || busy}
            onChange={(e) => {
              const file = e.target.files?.[0];
              e.target.value = "";
              if (file) void upload(file);
            }}
          />
        </label>
      </span>
      {selected?.kind === "image" && (
        <span className="fy-thumb" aria-label="thumbnail">
          <img src={selected.thumbnail_url ?? thumbnailUrl(selected)} alt={selected.name} />
        </span>
      )}
      {current && uploads && !selected && <span className="fy-field-error">Not uploaded in this workspace.</span>}
    </span>
  );
}
