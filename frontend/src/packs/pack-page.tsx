// /packs/:name: README, versions (status, yanked, deprecated), nodes with inputs and outputs, scan findings, and
// installing into a workspace where the caller is owner or admin.
import { useState } from "react";
import { Link, useParams } from "react-router";
import { ApiError, errorMessage } from "../api/client";
import { workspaces } from "../api/endpoints";
import type { User, Workspace } from "../api/schemas";
import { NotFound } from "../app/not-found";
import { RequireSignIn } from "../app/require-sign-in";
import { ErrorState, Loading } from "../app/status-views";
import { useAsync } from "../app/use-async";
import { relativeTime } from "../workflows/diff-summary";
import {
  installAction,
  installableVersions,
  installTargets,
  publisherHome,
  versionInstallDecision,
  type InstallTarget,
} from "./install-permissions";
import type { PackDetail, PackVersion } from "./pack-schemas";
import { Badge, FindingsList, NodeList, plural, VersionBadges } from "./pack-widgets";
import { packsApi } from "./packs-api";
import { errorLocation, sortFindings } from "./verdict";

function InstallPanel({ pack, me, onInstalled }: { pack: PackDetail; me: User; onInstalled(): void }) {
  const needsHome = pack.visibility !== "public";
  const data = useAsync(
    () =>
      Promise.all([
        workspaces.list(),
        needsHome ? packsApi.publisher(pack.publisher.slug).catch(() => null) : Promise.resolve(null),
      ]),
    [pack.name, needsHome],
  );
  if (data.status === "loading") return <Loading what="your workspaces" />;
  if (data.status === "error")
    return <p className="fy-form-error">Workspaces are unavailable: {errorMessage(data.error)}</p>;
  const [spaces, publisher] = data.data;
  const targets = installTargets(spaces, pack, publisherHome(publisher, me));
  const versions = installableVersions(pack.versions);
  if (!versions.length) {
    return <p className="fy-hint">No version can be installed yet: none is active and not yanked.</p>;
  }
  if (!targets.some((t) => t.decision.allowed)) {
    return (
      <div>
        <p className="fy-hint">You cannot install this pack in any of your workspaces.</p>
        <ul className="fy-plain-list">
          {targets.map((t) => (
            <li key={t.workspace.id}>
              {t.workspace.kind === "personal" ? "Personal" : t.workspace.name}:{" "}
              {t.decision.allowed ? "" : t.decision.reason}
            </li>
          ))}
        </ul>
      </div>
    );
  }
  return <InstallForm pack={pack} targets={targets} versions={versions} onInstalled={onInstalled} />;
}

function InstallForm({
  pack,
  targets,
  versions,
  onInstalled,
}: {
  pack: PackDetail;
  targets: InstallTarget<Workspace>[];
  versions: PackVersion[];
  onInstalled(): void;
}) {
  const [chosen, setChosen] = useState<number | null>(targets.find((t) => t.decision.allowed)?.workspace.id ?? null);
  const [version, setVersion] = useState<string>(versions[0]?.version ?? "");
  const [result, setResult] = useState<{ ok: boolean; text: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const current = useAsync(
    () => (chosen === null ? Promise.resolve(null) : packsApi.installed(chosen)),
    [chosen, result?.text],
  );
  const chosenVersion = version;
  const pin = current.status === "ready" ? current.data?.find((i) => i.pack === pack.name) : undefined;
  const install = () => {
    if (chosen === null) return;
    setBusy(true);
    setResult(null);
    packsApi.install(chosen, pack.name, chosenVersion).then(
      (inst) => {
        const where = targets.find((t) => t.workspace.id === chosen)?.workspace;
        setResult({
          ok: true,
          text: `${inst.display_name || inst.pack} ${inst.version} is installed in ${where?.kind === "personal" ? "your personal workspace" : where?.name}.`,
        });
        setBusy(false);
        onInstalled();
      },
      (exc: unknown) => {
        setResult({ ok: false, text: errorMessage(exc) });
        setBusy(false);
      },
    );
  };
  const action = installAction(pin?.version, chosenVersion);
  return (
    <form
      className="fy-install"
      aria-label="Install pack"
      onSubmit={(e) => {
        e.preventDefault();
        install();
      }}
    >
      <label>
        Workspace
        <select
          aria-label="Workspace"
          value={chosen ?? ""}
          onChange={(e) => {
            setChosen(Number(e.target.value));
            setResult(null);
          }}
        >
          {targets.map((t) => (
            <option
              key={t.workspace.id}
              value={t.workspace.id}
              disabled={!t.decision.allowed}
              title={t.decision.allowed ? "" : t.decision.reason}
            >
              {t.workspace.kind === "personal" ? "Personal" : t.workspace.name}
              {t.decision.allowed ? "" : " (not allowed)"}
            </option>
          ))}
        </select>
      </label>
      <label>
        Version
        <select aria-label="Version" value={chosenVersion} onChange={(e) => setVersion(e.target.value)}>
          {versions.map((v, i) => (
            <option key={v.id} value={v.version}>
              {v.version}
              {i === 0 ? " (latest)" : ""}
              {v.deprecated ? " (deprecated)" : ""}
            </option>
          ))}
        </select>
      </label>
      <button type="submit" disabled={busy || pin?.version === chosenVersion}>
        {busy ? "Installing…" : action}
      </button>
      {pin && (
        <small className="fy-hint">
          Installed here: {pin.version}
          {pin.update_available ? ` (update ${pin.latest_version} available)` : ""}
        </small>
      )}
      {result && (
        <p className={result.ok ? "fy-ok" : "fy-form-error"} role={result.ok ? "status" : "alert"}>
          {result.text}
        </p>
      )}
    </form>
  );
}

function VersionRow({ v, manager, onChanged }: { v: PackVersion; manager: boolean; onChanged(): void }) {
  const [error, setError] = useState<string | null>(null);
  const act = (p: Promise<unknown>) => p.then(onChanged, (exc: unknown) => setError(errorMessage(exc)));
  const decision = versionInstallDecision(v);
  const errors = v.errors ?? v.report?.errors ?? [];
  return (
    <tr>
      <td className="fy-mono">{v.version}</td>
      <td>
        <VersionBadges v={v} />
        {v.high_findings > 0 && <Badge tone="error">{plural(v.high_findings, "high finding")}</Badge>}
      </td>
      <td>
        {v.verdict}
        {v.deprecated && <div className="fy-hint">Deprecated: {v.deprecated}</div>}
        {v.yanked && v.yank_reason && <div className="fy-hint">Yanked: {v.yank_reason}</div>}
        {manager && v.review_note && <div className="fy-hint">Review: {v.review_note}</div>}
        {manager && errors.length > 0 && (
          <details>
            <summary>{plural(errors.length, "error")}</summary>
            <ul className="fy-plain-list">
              {errors.map((e, i) => (
                <li key={i}>
                  <span className="fy-mono">{errorLocation(e)}</span>: {e.message}
                </li>
              ))}
            </ul>
          </details>
        )}
        {error && <div className="fy-form-error">{error}</div>}
      </td>
      <td title={v.created}>{relativeTime(v.created)}</td>
      <td className="fy-actions">
        {decision.allowed && (
          <a href={packsApi.downloadUrl(v.pack, v.version)} title={`sha256 ${v.archive_sha256}`}>
            Download
          </a>
        )}
        {manager &&
          v.status === "active" &&
          (v.yanked ? (
            <button type="button" onClick={() => void act(packsApi.unyank(v.id))}>
              Unyank
            </button>
          ) : (
            <button
              type="button"
              title="No new installs; existing pins keep it"
              onClick={() => {
                const reason = window.prompt(`Yank ${v.pack} ${v.version}? Reason (optional):`);
                if (reason !== null) void act(packsApi.yank(v.id, reason));
              }}
            >
              Yank
            </button>
          ))}
        {manager && v.status === "active" && (
          <button
            type="button"
            onClick={() => {
              const message = window.prompt("Deprecation message (empty clears it):", v.deprecated ?? "");
              if (message !== null) void act(packsApi.deprecate(v.id, message));
            }}
          >
            {v.deprecated ? "Edit deprecation" : "Deprecate"}
          </button>
        )}
      </td>
    </tr>
  );
}

function PackView({ pack, me, reload }: { pack: PackDetail; me: User; reload(): void }) {
  const manager = pack.can_manage || me.is_site_admin;
  const findings = sortFindings(pack.findings);
  return (
    <section className="fy-page fy-page-wide fy-pack-page">
      <p>
        <Link to="/packs">← Marketplace</Link>
      </p>
      <header className="fy-page-header">
        <h1>{pack.display_name || pack.name}</h1>
        <span className="fy-mono fy-muted">{pack.name}</span>
        {pack.latest_version && <Badge tone="ok">{pack.latest_version}</Badge>}
        {pack.visibility !== "public" && (
          <Badge tone="muted">{pack.visibility === "team" ? "team-only" : "private"}</Badge>
        )}
      </header>
      <p>{pack.description}</p>
      <p className="fy-pack-meta">
        by{" "}
        <Link to={`/publishers/${encodeURIComponent(pack.publisher.slug)}`}>
          {pack.publisher.display_name || pack.publisher.slug}
        </Link>
        {pack.publisher.trusted && <Badge tone="ok">trusted</Badge>} · {plural(pack.installs, "install")} ·{" "}
        {plural(pack.downloads, "download")}
        {pack.homepage && (
          <>
            {" · "}
            <a href={pack.homepage} rel="noopener noreferrer nofollow" target="_blank">
              homepage
            </a>
          </>
        )}
        {pack.categories.map((c) => (
          <Link key={c} className="fy-chip" to={`/packs?category=${encodeURIComponent(c)}`}>
            {c}
          </Link>
        ))}
      </p>
      <div className="fy-pack-columns">
        <div className="fy-pack-main">
          <section aria-label="README">
            <h2>README {pack.shown_version && <small className="fy-muted">({pack.shown_version})</small>}</h2>
            {pack.readme_html ? (
              // Rendered from Markdown with raw HTML off and sanitised with nh3 on the server (docs/api.md).
              <div className="fy-readme" dangerouslySetInnerHTML={{ __html: pack.readme_html }} />
            ) : (
              <p className="fy-empty">This version has no README.</p>
            )}
          </section>
          <section aria-label="Nodes">
            <h2>Nodes ({pack.nodes.length})</h2>
            {pack.nodes.length ? (
              <NodeList nodes={pack.nodes} />
            ) : (
              <p className="fy-empty">
                {pack.nodes_known
                  ? "This version declares no nodes."
                  : "Not known yet: the server records a version's nodes when a worker first loads it."}
              </p>
            )}
          </section>
        </div>
        <aside className="fy-pack-side">
          <section aria-label="Install">
            <h2>Install</h2>
            <InstallPanel pack={pack} me={me} onInstalled={reload} />
          </section>
          <section aria-label="Security">
            <h2>Security scan</h2>
            {manager ? (
              <FindingsList findings={findings} />
            ) : findings.length ? (
              <details>
                <summary>
                  {plural(findings.length, "finding")} ({findings.filter((f) => f.severity === "high").length} high)
                </summary>
                <FindingsList findings={findings} />
              </details>
            ) : (
              <p className="fy-hint">The static scan found nothing in {pack.shown_version ?? "this version"}.</p>
            )}
          </section>
        </aside>
      </div>
      <section aria-label="Versions">
        <h2>Versions</h2>
        {pack.versions.length ? (
          <table className="fy-table">
            <thead>
              <tr>
                <th>version</th>
                <th>status</th>
                <th>verdict</th>
                <th>uploaded</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {pack.versions.map((v) => (
                <VersionRow key={v.id} v={v} manager={manager} onChanged={reload} />
              ))}
            </tbody>
          </table>
        ) : (
          <p className="fy-empty">No versions you may see.</p>
        )}
        {pack.can_manage && (
          <p>
            <Link to="/packs/upload">Upload a new version</Link>
          </p>
        )}
      </section>
    </section>
  );
}

export function PackPage() {
  const { name = "" } = useParams();
  return <RequireSignIn>{(me) => <PackLoader name={name} me={me} />}</RequireSignIn>;
}

function PackLoader({ name, me }: { name: string; me: User }) {
  const state = useAsync(() => packsApi.get(name), [name]);
  if (state.status === "loading") return <Loading what={`pack ${name}`} />;
  if (state.status === "error") {
    if (state.error instanceof ApiError && state.error.status === 404) return <NotFound what="pack" />;
    return <ErrorState title={`Could not load ${name}`} error={state.error} onRetry={state.reload} />;
  }
  return <PackView pack={state.data} me={me} reload={state.reload} />;
}
