// Home: workflows by workspace (a switcher across personal and team workspaces), recent runs, the template
// gallery, and empty states that lead somewhere.
import { useState, type FormEvent } from "react";
import { Link, useNavigate } from "react-router";
import { errorMessage } from "../api/client";
import { workflows, workspaces } from "../api/endpoints";
import type { User, WorkflowSummary, Workspace } from "../api/schemas";
import { teams } from "../api/teams-api";
import { workflowExtras } from "../api/workflow-extras-api";
import { RequireSignIn } from "../app/require-sign-in";
import { ErrorState, Loading } from "../app/status-views";
import { useAsync } from "../app/use-async";
import { relativeTime, runSubject } from "./diff-summary";
import { ImportComfyButton } from "../comfy/comfy-controls";
import { OpenFileButton } from "../templates/open-file-button";
import { TemplateGallery } from "../templates/template-gallery";

function WorkflowCard({ w, workspaceName }: { w: WorkflowSummary; workspaceName?: string | undefined }) {
  return (
    <li>
      <Link to={`/workflows/${w.id}`}>{w.name}</Link>
      {w.description && <p>{w.description}</p>}
      <small>
        {workspaceName ? `${workspaceName} · ` : ""}
        {w.latest_version ? `version ${w.latest_version}` : "no versions"} · updated {relativeTime(w.updated)}
        {w.visibility === "private" ? " · private" : ""}
        {w.is_template ? " · template" : ""}
        {w.created_by ? ` · by ${w.created_by.username}` : ""}
      </small>
    </li>
  );
}

function CreateTeam({ onCreated }: { onCreated(team: Workspace): void }) {
  const [open, setOpen] = useState(false);
  const [error, setError] = useState<string | null>(null);
  if (!open) {
    return (
      <button type="button" onClick={() => setOpen(true)}>
        Create a team
      </button>
    );
  }
  const submit = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const name = String(new FormData(e.currentTarget).get("name") ?? "").trim();
    teams.create(name).then(onCreated, (exc: unknown) => setError(errorMessage(exc)));
  };
  return (
    <form className="fy-inline-form" onSubmit={submit} aria-label="Create a team">
      <input name="name" placeholder="Team name" required autoFocus aria-label="Team name" />
      <button type="submit">Create team</button>
      <button type="button" onClick={() => setOpen(false)}>
        Cancel
      </button>
      {error && (
        <span className="fy-form-error" role="alert">
          {error}
        </span>
      )}
    </form>
  );
}

function RecentRuns({ workflowNames }: { workflowNames: ReadonlyMap<number, string> }) {
  const runs = useAsync(() => workflowExtras.recentRuns(), []);
  if (runs.status === "loading") return <Loading what="recent runs" />;
  if (runs.status === "error")
    return <p className="fy-hint">Recent runs are unavailable: {errorMessage(runs.error)}</p>;
  if (!runs.data.length)
    return <p className="fy-empty">No runs yet. Open a workflow and press Ctrl+Enter to run it.</p>;
  return (
    <ul className="fy-run-list">
      {runs.data.map((r) => (
        <li key={r.id}>
          <Link to={`/runs/${r.id}`}>
            <span className={`fy-run-status fy-status-${r.status}`}>{r.status}</span> {runSubject(r, workflowNames)}
          </Link>{" "}
          <small>{relativeTime(r.created)}</small>
          {r.duration != null && <small> · {r.duration.toFixed(1)} s</small>}
        </li>
      ))}
    </ul>
  );
}

function Templates({ onUse }: { onUse(t: WorkflowSummary): void }) {
  const list = useAsync(() => workflowExtras.templates(), []);
  if (list.status === "loading") return <Loading what="templates" />;
  if (list.status === "error") return <p className="fy-hint">Templates are unavailable: {errorMessage(list.error)}</p>;
  if (!list.data.length) {
    return (
      <p className="fy-empty">No team templates yet. In the editor, “Template” puts a workflow here for your team.</p>
    );
  }
  return (
    <ul className="fy-template-grid">
      {list.data.map((t) => (
        <li key={t.id}>
          <strong>{t.name}</strong>
          {t.description && <p>{t.description}</p>}
          <p className="fy-actions">
            <Link to={`/workflows/${t.id}`}>Open</Link>
            <button type="button" onClick={() => onUse(t)}>
              Use template
            </button>
          </p>
        </li>
      ))}
    </ul>
  );
}

function Home({ user }: { user: User }) {
  const navigate = useNavigate();
  const data = useAsync(() => Promise.all([workspaces.list(), workflows.list()]), []);
  const [filter, setFilter] = useState<number | "all">("all");
  const [useError, setUseError] = useState<string | null>(null);
  if (data.status === "loading") return <Loading what="your workflows" />;
  if (data.status === "error")
    return <ErrorState title="Could not load your workflows" error={data.error} onRetry={data.reload} />;
  const [spaces, list] = data.data;
  const nameOf = new Map(spaces.map((s) => [s.id, s.kind === "personal" ? "Personal" : s.name]));
  const shown = spaces.filter((s) => filter === "all" || s.id === filter);
  const personal = spaces.find((s) => s.kind === "personal")?.id ?? user.personal_workspace.id;
  const useTemplate = (t: WorkflowSummary) => {
    const target = typeof filter === "number" ? filter : personal;
    workflowExtras.fork(t.id, target).then(
      (fork) => navigate(`/workflows/${fork.id}`),
      (exc: unknown) => setUseError(errorMessage(exc)),
    );
  };
  return (
    <div className="fy-home-grid">
      <section className="fy-home">
        <header>
          <h1>Workflows</h1>
          <label className="fy-switcher">
            Workspace{" "}
            <select
              aria-label="Workspace"
              value={String(filter)}
              onChange={(e) => setFilter(e.target.value === "all" ? "all" : Number(e.target.value))}
            >
              <option value="all">All workspaces</option>
              {spaces.map((s) => (
                <option key={s.id} value={s.id}>
                  {nameOf.get(s.id)}
                </option>
              ))}
            </select>
          </label>
          <Link className="fy-button" to="/workflows/new">
            New workflow
          </Link>
          <OpenFileButton />
          <ImportComfyButton />
        </header>
        {!list.length && (
          <div className="fy-empty-state">
            <h2>No workflows yet</h2>
            <p>
              A workflow is a graph of nodes: load an image, change it, save the result. Start from a template, run it
              with Ctrl+Enter, then change it.
            </p>
            <TemplateGallery workspace={typeof filter === "number" ? filter : personal} />
            <p>
              <Link className="fy-button" to="/workflows/new">
                Create your first workflow
              </Link>{" "}
              from an empty canvas, or open a graph file (Flowyard or ComfyUI).
            </p>
          </div>
        )}
        {list.length > 0 &&
          shown.map((space) => {
            const items = list.filter((w) => w.workspace === space.id);
            return (
              <section key={space.id} className="fy-workspace-section" aria-label={`Workspace ${nameOf.get(space.id)}`}>
                <h2>
                  {space.kind === "personal" ? "Personal" : <Link to={`/teams/${space.id}`}>{space.name}</Link>}{" "}
                  <small className="fy-role">{space.kind === "team" ? space.role : ""}</small>
                </h2>
                {items.length ? (
                  <ul className="fy-workflow-list">
                    {items.map((w) => (
                      <WorkflowCard key={w.id} w={w} />
                    ))}
                  </ul>
                ) : (
                  <p className="fy-empty">No workflows in this workspace yet.</p>
                )}
              </section>
            );
          })}
      </section>
      <aside className="fy-home-side">
        <h2>Teams</h2>
        <ul className="fy-plain-list">
          {spaces
            .filter((s) => s.kind === "team")
            .map((s) => (
              <li key={s.id}>
                <Link to={`/teams/${s.id}`}>{s.name}</Link> <small className="fy-role">{s.role}</small>
              </li>
            ))}
        </ul>
        {!spaces.some((s) => s.kind === "team") && <p className="fy-empty">You are in no team yet.</p>}
        <CreateTeam onCreated={(team) => navigate(`/teams/${team.id}`)} />
        <h2>Recent runs</h2>
        <RecentRuns workflowNames={new Map(list.map((w) => [w.id, w.name]))} />
        {list.length > 0 && (
          <>
            <h2>Start from a template</h2>
            <TemplateGallery workspace={typeof filter === "number" ? filter : personal} />
          </>
        )}
        <h2>Shared templates</h2>
        {useError && (
          <p className="fy-form-error" role="alert">
            {useError}
          </p>
        )}
        <Templates onUse={useTemplate} />
      </aside>
    </div>
  );
}

export function HomePage() {
  return <RequireSignIn>{(user) => <Home user={user} />}</RequireSignIn>;
}
