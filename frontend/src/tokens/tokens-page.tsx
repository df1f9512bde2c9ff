// /settings/tokens: personal API tokens for scripts (Authorization: Bearer). A new token is shown once.
import { useState, type FormEvent } from "react";
import { Link } from "react-router";
import { errorMessage } from "../api/client";
import type { ApiToken } from "../api/schemas";
import { tokens } from "../api/teams-api";
import { copyText, RequireSignIn } from "../app/require-sign-in";
import { ErrorState, Loading } from "../app/status-views";
import { useAsync } from "../app/use-async";
import { relativeTime } from "../workflows/diff-summary";

function Tokens() {
  const list = useAsync(() => tokens.list(), []);
  const [fresh, setFresh] = useState<ApiToken | null>(null);
  const [copied, setCopied] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const create = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = e.currentTarget;
    const name = String(new FormData(form).get("name") ?? "").trim();
    setError(null);
    tokens.create(name).then(
      (t) => {
        setFresh(t);
        setCopied(false);
        form.reset();
        list.reload();
      },
      (exc: unknown) => setError(errorMessage(exc)),
    );
  };
  const revoke = (t: ApiToken) => {
    if (!window.confirm(`Revoke “${t.name}”? Scripts using it stop working at once.`)) return;
    tokens.revoke(t.id).then(list.reload, (exc: unknown) => setError(errorMessage(exc)));
  };
  return (
    <section className="fy-page">
      <p>
        <Link to="/">← Home</Link>
      </p>
      <h1>API tokens</h1>
      <p className="fy-hint">
        A token acts as you, with your permissions. Send it as <code>Authorization: Bearer &lt;token&gt;</code>.
      </p>
      <form className="fy-inline-form" onSubmit={create} aria-label="Create API token">
        <input
          name="name"
          placeholder="What is it for? (e.g. nightly batch)"
          required
          aria-label="Token name"
          maxLength={100}
        />
        <button type="submit">Create token</button>
      </form>
      {error && (
        <p className="fy-form-error" role="alert">
          {error}
        </p>
      )}
      {fresh?.token && (
        <div className="fy-secret" role="status">
          <p>
            Your new token <strong>{fresh.name}</strong>. Copy it now: it will not be shown again.
          </p>
          <code data-testid="new-token">{fresh.token}</code>{" "}
          <button type="button" onClick={() => void copyText(fresh.token ?? "").then(setCopied)}>
            {copied ? "Copied" : "Copy"}
          </button>
          <button type="button" onClick={() => setFresh(null)}>
            Done
          </button>
        </div>
      )}
      {list.status === "loading" && <Loading what="your tokens" />}
      {list.status === "error" && (
        <ErrorState title="Could not load your tokens" error={list.error} onRetry={list.reload} />
      )}
      {list.status === "ready" &&
        (list.data.length ? (
          <table className="fy-table">
            <thead>
              <tr>
                <th>Name</th>
                <th>Token</th>
                <th>Created</th>
                <th>Last used</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {list.data.map((t) => (
                <tr key={t.id} data-token={t.name}>
                  <td>{t.name}</td>
                  <td>
                    <code>{t.prefix}…</code>
                  </td>
                  <td>{relativeTime(t.created)}</td>
                  <td>{t.last_used ? relativeTime(t.last_used) : "never"}</td>
                  <td>
                    <button type="button" onClick={() => revoke(t)}>
                      Revoke
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : (
          <p className="fy-empty">No tokens yet. Create one to call the API from scripts.</p>
        ))}
    </section>
  );
}

export function TokensPage() {
  return <RequireSignIn>{() => <Tokens />}</RequireSignIn>;
}
