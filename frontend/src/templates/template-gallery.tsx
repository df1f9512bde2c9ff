// The built-in template gallery: the shipped examples as cards with a picture of the graph; "Use template"
// copies one into a workspace and opens it. A template this server cannot run yet is shown with what it needs.
import { useState } from "react";
import { useNavigate } from "react-router";
import { errorMessage } from "../api/client";
import { Loading } from "../app/status-views";
import { useAsync } from "../app/use-async";
import { templatesApi, type BuiltinTemplate } from "./templates-api";
import "./templates.css";

function TemplateCard({
  template,
  busy,
  onUse,
}: {
  template: BuiltinTemplate;
  busy: boolean;
  onUse(t: BuiltinTemplate): void;
}) {
  const ready = template.needs.length === 0;
  return (
    <li className={ready ? "fy-builtin" : "fy-builtin fy-builtin-needs"} aria-label={`Template ${template.name}`}>
      <img src={template.preview_url} alt={`The ${template.name} graph`} loading="lazy" />
      <div className="fy-builtin-body">
        <strong>{template.name}</strong> <span className="fy-builtin-category">{template.category}</span>
        <p>{template.description}</p>
        {!ready && (
          <p className="fy-builtin-missing" title={template.needs.join("\n")}>
            Needs {template.needs.join("; ")}
          </p>
        )}
        <button
          type="button"
          className={ready ? "fy-primary" : undefined}
          disabled={busy}
          onClick={() => onUse(template)}
          title={
            ready
              ? "Copy into your workspace and open it"
              : "Open a copy now; it runs once the server has what it needs"
          }
        >
          {busy ? "Creating…" : "Use template"}
        </button>
      </div>
    </li>
  );
}

/** The gallery; `workspace` is where "Use template" puts the new workflow. */
export function TemplateGallery({ workspace, onUsed }: { workspace: number; onUsed?(): void }) {
  const navigate = useNavigate();
  const list = useAsync(() => templatesApi.builtin(), []);
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  if (list.status === "loading") return <Loading what="the template gallery" />;
  if (list.status === "error")
    return <p className="fy-hint">The template gallery is unavailable: {errorMessage(list.error)}</p>;
  const use = (t: BuiltinTemplate) => {
    setBusy(t.id);
    setError(null);
    templatesApi.use(t.id, workspace).then(
      (created) => {
        setBusy(null);
        onUsed?.();
        navigate(`/workflows/${created.id}`);
      },
      (exc: unknown) => {
        setBusy(null);
        setError(`Could not use “${t.name}”: ${errorMessage(exc)}`);
      },
    );
  };
  return (
    <>
      {error && (
        <p className="fy-form-error" role="alert">
          {error}
        </p>
      )}
      <ul className="fy-builtin-grid" aria-label="Built-in templates">
        {list.data.map((t) => (
          <TemplateCard key={t.id} template={t} busy={busy === t.id} onUse={use} />
        ))}
      </ul>
    </>
  );
}
