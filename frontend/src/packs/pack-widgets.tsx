// Small pieces the marketplace pages share: badges, pack cards, findings and verdicts.
import { Link } from "react-router";
import type { NodeSchema } from "../api/schemas";
import type { Finding, PackSummary } from "./pack-schemas";
import { findingLocation, versionBadges, type VerdictTone, type VerdictView } from "./verdict";
import "./packs.css";

export function Badge({
  tone,
  children,
  title,
}: {
  tone: VerdictTone | "muted";
  children: React.ReactNode;
  title?: string | undefined;
}) {
  return (
    <span className={`fy-badge fy-badge-${tone}`} title={title}>
      {children}
    </span>
  );
}

export function VersionBadges({
  v,
}: {
  v: { status: string; yanked: boolean; deprecated?: string | null | undefined };
}) {
  return (
    <>
      {versionBadges(v).map((b) => (
        <Badge key={b.label} tone={b.tone} title={b.title}>
          {b.label}
        </Badge>
      ))}
    </>
  );
}

export function PackCard({ pack }: { pack: PackSummary }) {
  return (
    <li className="fy-pack-card" data-testid={`pack-${pack.name}`}>
      <header>
        <Link to={`/packs/${encodeURIComponent(pack.name)}`} className="fy-pack-name">
          {pack.display_name || pack.name}
        </Link>
        {pack.latest_version ? (
          <span className="fy-mono fy-muted">{pack.latest_version}</span>
        ) : (
          <Badge tone="wait">no active version</Badge>
        )}
      </header>
      <p className="fy-pack-desc">{pack.description}</p>
      <p className="fy-pack-meta">
        by{" "}
        <Link to={`/publishers/${encodeURIComponent(pack.publisher.slug)}`}>
          {pack.publisher.display_name || pack.publisher.slug}
        </Link>
        {pack.publisher.trusted && (
          <Badge tone="ok" title="A site admin marked this publisher as trusted">
            trusted
          </Badge>
        )}
        {pack.visibility !== "public" && (
          <Badge tone="muted">{pack.visibility === "team" ? "team-only" : "private"}</Badge>
        )}
        {pack.can_manage && <Badge tone="muted">yours</Badge>}
      </p>
      <p className="fy-pack-stats">
        <span title="Workspaces that installed it">{plural(pack.installs, "install")}</span>
        <span title="Archive downloads">{plural(pack.downloads, "download")}</span>
        {pack.categories.map((c) => (
          <Link key={c} className="fy-chip" to={`/packs?category=${encodeURIComponent(c)}`}>
            {c}
          </Link>
        ))}
      </p>
    </li>
  );
}

export function plural(n: number, word: string): string {
  return `${n.toLocaleString()} ${word}${n === 1 ? "" : "s"}`;
}

export function FindingsList({ findings }: { findings: readonly Finding[] }) {
  if (!findings.length) return <p className="fy-empty">The static scan found nothing.</p>;
  return (
    <ul className="fy-findings">
      {findings.map((f, i) => (
        <li key={i} className={`fy-finding fy-finding-${f.severity}`}>
          <div>
            <Badge tone={f.severity === "high" ? "error" : f.severity === "medium" ? "warn" : "muted"}>
              {f.severity}
            </Badge>{" "}
            <strong>{f.rule}</strong> <span className="fy-mono fy-muted">{findingLocation(f)}</span>
          </div>
          {f.snippet && <pre className="fy-snippet">{f.snippet}</pre>}
          {f.explanation && <p className="fy-hint">{f.explanation}</p>}
        </li>
      ))}
    </ul>
  );
}

export function VerdictPanel({ verdict }: { verdict: VerdictView }) {
  return (
    <section
      className={`fy-verdict fy-verdict-${verdict.tone}`}
      role={verdict.tone === "error" ? "alert" : "status"}
      aria-label="Verdict"
    >
      <h2>
        {verdict.poll && <span className="fy-spinner" aria-hidden />} {verdict.title}
      </h2>
      <p>{verdict.message}</p>
      {verdict.pack && verdict.kind !== "rejected" && (
        <p>
          <Link to={`/packs/${encodeURIComponent(verdict.pack)}`}>Open {verdict.pack}</Link>
        </p>
      )}
      {verdict.errors.length > 0 && (
        <>
          <h3>{verdict.errors.length === 1 ? "1 error" : `${verdict.errors.length} errors`}</h3>
          <table className="fy-table fy-errors">
            <thead>
              <tr>
                <th>where</th>
                <th>problem</th>
              </tr>
            </thead>
            <tbody>
              {verdict.errors.map((e, i) => (
                <tr key={i}>
                  <td className="fy-mono">{e.location}</td>
                  <td>
                    {e.message}
                    {e.code && <small className="fy-muted"> ({e.code})</small>}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
      {verdict.findings.length > 0 && (
        <>
          <h3>Scan findings</h3>
          <FindingsList findings={verdict.findings} />
        </>
      )}
    </section>
  );
}

function inputKind(input: NodeSchema["inputs"][number]): string {
  if (input.mode === "widget") return input.widget?.kind ?? "widget";
  if (input.mode === "both") return `${input.widget?.kind ?? "widget"} or link`;
  return "link";
}

export function NodeList({ nodes }: { nodes: readonly NodeSchema[] }) {
  return (
    <ul className="fy-pack-nodes">
      {nodes.map((n) => (
        <li key={n.type} id={`node-${n.type}`}>
          <header>
            <strong>{n.display_name}</strong> <span className="fy-mono fy-muted">{n.type}</span>
            {n.requires_gpu && <Badge tone="warn">GPU</Badge>}
            {n.output_node && <Badge tone="muted">output</Badge>}
            {n.deprecated && (
              <Badge tone="warn" title={n.deprecated}>
                deprecated
              </Badge>
            )}
          </header>
          {n.description && <p className="fy-hint">{n.description}</p>}
          <div className="fy-io">
            <div>
              <h4>Inputs</h4>
              {n.inputs.length ? (
                <ul>
                  {n.inputs.map((i) => (
                    <li key={i.name} title={i.tooltip}>
                      <span className="fy-mono">{i.name}</span> <span className="fy-socket-type">{i.type}</span>{" "}
                      <small className="fy-muted">
                        {inputKind(i)}
                        {i.required ? ", required" : ""}
                        {i.has_default ? `, default ${JSON.stringify(i.default)}` : ""}
                      </small>
                    </li>
                  ))}
                </ul>
              ) : (
                <p className="fy-empty">none</p>
              )}
            </div>
            <div>
              <h4>Outputs</h4>
              {n.outputs.length ? (
                <ul>
                  {n.outputs.map((o) => (
                    <li key={o.name} title={o.tooltip}>
                      <span className="fy-mono">{o.name}</span> <span className="fy-socket-type">{o.type}</span>
                    </li>
                  ))}
                </ul>
              ) : (
                <p className="fy-empty">none</p>
              )}
            </div>
          </div>
        </li>
      ))}
    </ul>
  );
}
