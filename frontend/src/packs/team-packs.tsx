// The team settings' "Node packs" section: installed packs with their pins; owners and admins upgrade, pin
// another version or remove one.
import { useState } from "react";
import { Link } from "react-router";
import { errorMessage } from "../api/client";
import type { Role } from "../api/schemas";
import { ErrorState, Loading } from "../app/status-views";
import { useAsync } from "../app/use-async";
import { canInstallIn, installAction, installableVersions } from "./install-permissions";
import type { Install } from "./pack-schemas";
import { Badge } from "./pack-widgets";
import { packsApi } from "./packs-api";

function PinPicker({
  workspace,
  install,
  onDone,
}: {
  workspace: number;
  install: Install;
  onDone(message: string): void;
}) {
  const detail = useAsync(() => packsApi.get(install.pack), [install.pack]);
  const [version, setVersion] = useState("");
  const [error, setError] = useState<string | null>(null);
  if (detail.status === "loading") return <Loading what="versions" />;
  if (detail.status === "error") return <span className="fy-form-error">{errorMessage(detail.error)}</span>;
  const versions = installableVersions(detail.data.versions);
  const chosen = version || versions[0]?.version || "";
  return (
    <span className="fy-inline-form">
      <select aria-label={`Version of ${install.pack}`} value={chosen} onChange={(e) => setVersion(e.target.value)}>
        {versions.map((v) => (
          <option key={v.id} value={v.version}>
            {v.version}
            {v.deprecated ? " (deprecated)" : ""}
          </option>
        ))}
      </select>
      <button
        type="button"
        disabled={!chosen || chosen === install.version}
        onClick={() =>
          packsApi.install(workspace, install.pack, chosen).then(
            (i) => onDone(`${i.pack} is now pinned to ${i.version}.`),
            (exc: unknown) => setError(errorMessage(exc)),
          )
        }
      >
        {installAction(install.version, chosen)}
      </button>
      {error && <span className="fy-form-error">{error}</span>}
    </span>
  );
}

export function TeamPacks({ workspace, role }: { workspace: number; role: Role }) {
  const list = useAsync(() => packsApi.installed(workspace), [workspace]);
  const [picking, setPicking] = useState<string | null>(null);
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);
  const manage = canInstallIn(role);
  const done = (text: string) => {
    setMessage({ ok: true, text });
    setPicking(null);
    list.reload();
  };
  const fail = (exc: unknown) => setMessage({ ok: false, text: errorMessage(exc) });
  return (
    <section aria-label="Node packs">
      <h2>Node packs</h2>
      {list.status === "loading" && <Loading what="installed packs" />}
      {list.status === "error" && (
        <ErrorState title="Could not load the installed packs" error={list.error} onRetry={list.reload} />
      )}
      {list.status === "ready" &&
        (list.data.length ? (
          <table className="fy-table">
            <thead>
              <tr>
                <th>pack</th>
                <th>pinned</th>
                <th>nodes</th>
                <th>installed by</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {list.data.map((i) => (
                <tr key={i.pack}>
                  <td>
                    <Link to={`/packs/${encodeURIComponent(i.pack)}`}>{i.display_name || i.pack}</Link>
                  </td>
                  <td>
                    <span className="fy-mono">{i.version}</span>{" "}
                    {i.update_available && (
                      <Badge tone="wait" title={`Latest: ${i.latest_version}`}>
                        update {i.latest_version}
                      </Badge>
                    )}
                    {i.yanked && (
                      <Badge tone="error" title={i.yank_reason}>
                        yanked
                      </Badge>
                    )}
                    {i.deprecated && (
                      <Badge tone="warn" title={i.deprecated}>
                        deprecated
                      </Badge>
                    )}
                  </td>
                  <td className="fy-mono fy-small">
                    {i.nodes.filter(Boolean).join(", ") || <span className="fy-muted">not known yet</span>}
                  </td>
                  <td>{i.installed_by?.username ?? "—"}</td>
                  <td className="fy-actions">
                    {manage && i.update_available && i.latest_version && (
                      <button
                        type="button"
                        onClick={() =>
                          packsApi
                            .install(workspace, i.pack, i.latest_version)
                            .then((x) => done(`${x.pack} upgraded to ${x.version}.`), fail)
                        }
                      >
                        Upgrade to {i.latest_version}
                      </button>
                    )}
                    {manage && (
                      <button
                        type="button"
                        onClick={() => setPicking(picking === i.pack ? null : i.pack)}
                        aria-pressed={picking === i.pack}
                      >
                        Change version
                      </button>
                    )}
                    {manage && (
                      <button
                        type="button"
                        className="fy-danger"
                        onClick={() => {
                          if (
                            window.confirm(
                              `Remove ${i.pack} from this workspace? Workflows using its nodes will not run until it is installed again.`,
                            )
                          ) {
                            packsApi.remove(workspace, i.pack).then(() => done(`${i.pack} removed.`), fail);
                          }
                        }}
                      >
                        Remove
                      </button>
                    )}
                    {picking === i.pack && <PinPicker workspace={workspace} install={i} onDone={done} />}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : (
          <p className="fy-empty">
            No packs installed. <Link to="/packs">Browse the marketplace</Link>
            {manage ? " to add node types to this team." : "; the team's owner or admins can install them."}
          </p>
        ))}
      {!manage && list.status === "ready" && list.data.length > 0 && (
        <p className="fy-hint">Only the team's owner and admins install, upgrade or remove packs.</p>
      )}
      {message && (
        <p className={message.ok ? "fy-ok" : "fy-form-error"} role={message.ok ? "status" : "alert"}>
          {message.text}
        </p>
      )}
    </section>
  );
}
