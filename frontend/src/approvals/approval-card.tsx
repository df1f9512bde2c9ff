// One approval: what the approvers are asked and shown, and either the Approve / Reject buttons (for an
// approver while the run waits) or who decided what, when, and why.
import { useState } from "react";
import { Link } from "react-router";
import { errorMessage } from "../api/client";
import { FileOutput, isShownMedia, isTextual, MediaOutput } from "../runs/media-output";
import { approvalsApi, type Approval, type Decision } from "./approvals-api";
import "./approvals.css";

function when(iso: string | null): string {
  return iso ? new Date(iso).toLocaleString() : "—";
}

export function decisionText(a: Approval): string {
  if (a.pending) return "waiting for a decision";
  const verb = a.decision === "approve" ? "Approved" : "Rejected";
  const who = a.timed_out ? `automatically (no decision before ${when(a.deadline)})` : `by ${a.decided_by ?? "?"}`;
  return `${verb} ${who} on ${when(a.decided_at)}${a.comment ? `: ${a.comment}` : ""}`;
}

export function ApprovalCard({
  approval,
  onDecided,
  showRun = false,
}: {
  approval: Approval;
  onDecided: (decided: Approval) => void;
  showRun?: boolean;
}) {
  const [comment, setComment] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const a = approval;

  const decide = async (decision: Decision) => {
    setBusy(true);
    setError(null);
    try {
      onDecided(await approvalsApi.decide(a.run, a.id, decision, comment));
    } catch (exc) {
      setError(errorMessage(exc));
    } finally {
      setBusy(false);
    }
  };

  return (
    <article className={`fy-approval${a.pending ? "" : " is-decided"}`} data-testid={`approval-${a.id}`}>
      <h3>
        Approval at node #{a.node}
        {showRun && (
          <>
            {" "}
            of <Link to={`/runs/${a.run}`}>{a.workflow_name ?? `run ${a.run.slice(0, 8)}`}</Link>
          </>
        )}
      </h3>
      {a.message && <p>{a.message}</p>}
      <p className="fy-muted">
        Approvers: {a.approvers.text || a.approvers.users.join(", ") || a.approvers.role} · requested{" "}
        {when(a.requested)}
        {a.deadline &&
          a.pending &&
          ` · ${a.on_timeout === "approve" ? "approved" : "rejected"} automatically at ${when(a.deadline)}`}
      </p>
      {a.outputs.length > 0 && (
        <div className="fy-approval-outputs">
          {a.outputs.map((r) =>
            isShownMedia(r) ? (
              <MediaOutput key={r.id} result={r} />
            ) : isTextual(r) ? (
              <pre key={r.id} className="fy-node-text">
                {r.kind === "json" ? JSON.stringify(r.data, null, 2) : r.text}
              </pre>
            ) : (
              <FileOutput key={r.id} result={r} />
            ),
          )}
        </div>
      )}
      {a.can_decide ? (
        <div className="fy-approval-actions">
          <textarea
            aria-label="Comment"
            placeholder="Comment (optional)"
            value={comment}
            onChange={(e) => setComment(e.target.value)}
          />
          <button type="button" className="fy-primary" disabled={busy} onClick={() => void decide("approve")}>
            Approve
          </button>
          <button type="button" disabled={busy} onClick={() => void decide("reject")}>
            Reject
          </button>
        </div>
      ) : (
        <p data-testid="approval-decision">
          {a.pending && a.run_status === "awaiting_approval"
            ? "Waiting for a decision: you are not one of its approvers."
            : decisionText(a)}
        </p>
      )}
      {error && (
        <p className="fy-field-error" role="alert">
          {error}
        </p>
      )}
    </article>
  );
}
