// The run page's approvals: loaded when the run pauses and again as its log moves on (a request or a decision).
import { useState } from "react";
import { errorMessage } from "../api/client";
import { usePolled } from "../app/use-polled";
import type { RunStatus } from "../runs/run-schemas";
import { ApprovalCard } from "./approval-card";
import { approvalsApi, type Approval } from "./approvals-api";
import { notifyApprovalsChanged } from "./pending-approvals";

export function ApprovalPanel({ runId, status, lastSeq }: { runId: string; status: RunStatus; lastSeq: number }) {
  // While the run waits, every new event may be a request or a decision; afterwards, only the status matters.
  const reloadKey = status === "awaiting_approval" ? `${status}:${lastSeq}` : status;
  // Loaded again when the key moves (never on a timer); the last good list stays shown meanwhile.
  const loaded = usePolled(
    (signal) => approvalsApi.ofRun(runId, signal),
    [runId, reloadKey],
    () => null,
  );
  // Decisions made here show at once, until the next load brings the server's list.
  const [patched, setPatched] = useState<{ at: number; byId: ReadonlyMap<number, Approval> }>({
    at: 0,
    byId: new Map(),
  });
  const approvals = loaded.data?.map((a) => (patched.at === loaded.at ? (patched.byId.get(a.id) ?? a) : a)) ?? null;
  const error = loaded.error ? errorMessage(loaded.error) : null;

  if (error) return <p className="fy-field-error">Could not load the approvals: {error}</p>;
  if (!approvals || approvals.length === 0) return null;
  return (
    <section className="fy-approvals" aria-label="Approvals">
      <h2>Approval</h2>
      {approvals.map((a) => (
        <ApprovalCard
          key={a.id}
          approval={a}
          onDecided={(decided) => {
            setPatched((p) => ({
              at: loaded.at,
              byId: new Map(p.at === loaded.at ? p.byId : []).set(decided.id, decided),
            }));
            notifyApprovalsChanged();
          }}
        />
      ))}
    </section>
  );
}
