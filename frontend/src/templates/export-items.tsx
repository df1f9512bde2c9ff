// The editor's Export entries: the saved version as a runnable Python script or as an SVG picture
// (`GET /api/workflows/<id>/versions/<n>/export?format=python|svg`). Unsaved changes are not included.
import { useState } from "react";
import { errorMessage } from "../api/client";
import { templatesApi, type ExportFormat } from "./templates-api";
import "./templates.css";

const LABELS: Record<ExportFormat, { text: string; title: string }> = {
  python: {
    text: "Export as Python script",
    title: "a script that builds and runs this graph (flowyard run FILE.py, or python FILE.py)",
  },
  svg: { text: "Export as SVG picture", title: "a picture of the graph for docs and reviews" },
};

export function ExportVersionButton({
  format,
  workflowId,
  version,
  onError,
}: {
  format: ExportFormat;
  workflowId: number;
  version: number | null;
  onError(message: string): void;
}) {
  const [busy, setBusy] = useState(false);
  const run = () => {
    if (version === null) return;
    setBusy(true);
    templatesApi.exportVersion(workflowId, version, format).then(
      ({ name, blob }) => {
        const a = document.createElement("a");
        a.href = URL.createObjectURL(blob);
        a.download = name;
        a.click();
        setTimeout(() => URL.revokeObjectURL(a.href), 1000);
        setBusy(false);
      },
      (exc: unknown) => {
        onError(`Could not export: ${errorMessage(exc)}`);
        setBusy(false);
      },
    );
  };
  const { text, title } = LABELS[format];
  return (
    <button
      type="button"
      onClick={run}
      disabled={busy || version === null}
      title={`Download ${version === null ? "the saved version" : `version ${version}`} as ${title}; unsaved changes are not included`}
    >
      {text}
    </button>
  );
}
