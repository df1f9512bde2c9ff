// The run page's approvals: loaded when the run pauses and again as its log moves on (a request or a decision).
import { useEffect, useState } from "react";
import { errorMessage } from "../api/client";
import type { RunStatus } from "../runs/run-schemas";
import { ApprovalCard } from "./approval-card";
import { approvalsApi, type Approval } from "./approvals-api";
import { notifyApprovalsChanged } from "./pending-approvals";

export function ApprovalPanel({ runId, status, lastSeq }: { runId: string; status: RunStatus; lastSeq: number }) {
  const [approvals, setApprovals] = useState<Approval[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  // While the run waits, every new event may be a request or a decision; afterwards, only the status matters.
  const reloadKey = status === "awaiting_approval" ? `${status}:${lastSeq}` : status;

  useEffect(() => {
    const abort = new AbortController();
    approvalsApi
      .ofRun(runId, abort.signal)
      .then((found) => {
        setApprovals(found);
        setError(null);
      })
      .catch((exc: unknown) => {
        if (!abort.signal.aborted) setError(errorMessage(exc));
      });
    return () => abort.abort();
  }, [runId, reloadKey]);

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
            setApprovals((list) => (list ?? []).map((x) => (x.id === decided.id ? decided : x)));
            notifyApprovalsChanged();
          }}
        />
      ))}
    </section>
  );
}
