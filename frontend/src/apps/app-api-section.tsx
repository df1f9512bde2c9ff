// The app view's API section for editors: the run endpoint, its OpenAPI document, a curl example, and the
// app's keys (created here; each secret shown once).
import { useState } from "react";
import { errorMessage } from "../api/client";
import { useAsync } from "../app/use-async";
import { appsApi, type AppDetail, type AppKey } from "./apps-api";

export function curlExample(
  origin: string,
  app: Pick<AppDetail, "slug" | "inputs">,
  key = "$FLOWYARD_APP_KEY",
): string {
  const body: Record<string, unknown> = {};
  for (const input of app.inputs) {
    if (input.kind === "seed") body[input.name] = "random";
    else if (input.default !== undefined && input.default !== null && input.kind !== "image" && input.kind !== "file")
      body[input.name] = input.default;
  }
  return [
    `curl -s -X POST ${origin}/api/apps/${app.slug}/runs \\`,
    `  -H "Authorization: Bearer ${key}" -H "Content-Type: application/json" \\`,
    `  -H "Idempotency-Key: $(uuidgen)" -d '${JSON.stringify(body)}'`,
  ].join("\n");
}

export function AppApiSection({ app }: { app: AppDetail }) {
  const [version, setVersion] = useState(0);
  const keys = useAsync(() => appsApi.keys(app.slug), [app.slug, version]);
  const [created, setCreated] = useState<AppKey | null>(null);
  const [name, setName] = useState("");
  const [error, setError] = useState<string | null>(null);
  const create = () => {
    setError(null);
    appsApi.createKey(app.slug, name || "key").then(
      (key) => {
        setCreated(key);
        setName("");
        setVersion((v) => v + 1);
      },
      (exc: unknown) => setError(errorMessage(exc)),
    );
  };
  const revoke = (id: number) =>
    appsApi.revokeKey(app.slug, id).then(
      () => setVersion((v) => v + 1),
      (exc: unknown) => setError(errorMessage(exc)),
    );
  return (
    <section className="fy-app-api" aria-label="API">
      <h2>API</h2>
      <p>
        <code>POST /api/apps/{app.slug}/runs</code> ·{" "}
        <a href={`/api/apps/${app.slug}/openapi.json`} target="_blank" rel="noreferrer">
          OpenAPI document
        </a>
      </p>
      <pre className="fy-app-text">{curlExample(window.location.origin, app)}</pre>
      <h3>App keys</h3>
      <p className="fy-hint">A key may run this app and read the runs it started, nothing else.</p>
      {created?.key && (
        <p className="fy-app-secret" role="status">
          New key (shown once): <code data-testid="app-key">{created.key}</code>
        </p>
      )}
      <div className="fy-inline-form">
        <input aria-label="Key name" placeholder="Key name" value={name} onChange={(e) => setName(e.target.value)} />
        <button type="button" onClick={create}>
          Create key
        </button>
      </div>
      {error && <p className="fy-form-error">{error}</p>}
      {keys.status === "ready" && (
        <ul className="fy-app-keys">
          {keys.data.map((key) => (
            <li key={key.id}>
              <code>{key.prefix}…</code> {key.name}{" "}
              {key.revoked_at ? (
                <small className="fy-muted">revoked</small>
              ) : (
                <button type="button" onClick={() => void revoke(key.id)}>
                  Revoke
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
