// The editor's banner for a workflow whose packs its workspace lacks (or pins at another version): owners and
// admins install with one click; others are told whom to ask.
import { useState } from "react";
import { Link } from "react-router";
import { errorMessage } from "../api/client";
import type { MissingPack, WorkflowDetail } from "../api/schemas";
import { packsApi } from "./packs-api";
import "./packs.css";

export function MissingPacksBanner({ workflow, onInstalled }: { workflow: WorkflowDetail; onInstalled(): void }) {
  const [done, setDone] = useState<Record<string, string>>({});
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [hidden, setHidden] = useState(false);
  const missing: MissingPack[] = workflow.missing_packs ?? [];
  if (!missing.length || hidden) return null;
  const admin = Boolean(workflow.permissions?.admin);
  const install = (m: MissingPack) => {
    setErrors((e) => ({ ...e, [m.pack]: "" }));
    packsApi.install(workflow.workspace, m.install.pack, m.install.version).then(
      (i) => setDone((d) => ({ ...d, [m.pack]: `${i.pack} ${i.version} installed.` })),
      (exc: unknown) => setErrors((e) => ({ ...e, [m.pack]: errorMessage(exc) })),
    );
  };
  const allDone = missing.every((m) => done[m.pack]);
  return (
    <div className="fy-missing-packs" role="alert" aria-label="Missing packs">
      <div className="fy-missing-packs-body">
        <strong>This workflow needs node packs its workspace does not have.</strong>
        <ul>
          {missing.map((m) => (
            <li key={m.pack}>
              {m.message} <Link to={`/packs/${encodeURIComponent(m.pack)}`}>About {m.pack}</Link>
              {done[m.pack] ? (
                <span className="fy-ok"> {done[m.pack]}</span>
              ) : admin ? (
                <button type="button" onClick={() => install(m)}>
                  {m.status === "other_version"
                    ? `Pin ${m.install.pack} ${m.install.version ?? ""}`
                    : `Install ${m.install.pack} ${m.install.version ?? ""}`}
                </button>
              ) : null}
              {errors[m.pack] && <span className="fy-form-error"> {errors[m.pack]}</span>}
            </li>
          ))}
        </ul>
        {!admin && (
          <p className="fy-hint">
            Ask the workspace's owner or an admin to install them; until then, its nodes show as missing and runs fail
            validation.
          </p>
        )}
      </div>
      {allDone ? (
        <button type="button" onClick={onInstalled}>
          Reload with the new nodes
        </button>
      ) : null}
      <button type="button" onClick={() => setHidden(true)} aria-label="Hide">
        ×
      </button>
    </div>
  );
}
