// /invite/:token: the page an invite link opens. Signed-in visitors accept with one click; the server's answer
// becomes a message a person understands (expired 410, used or revoked 404, already a member 409).
import { useState } from "react";
import { Link, useParams } from "react-router";
import { ApiError, errorMessage } from "../api/client";
import type { Workspace } from "../api/schemas";
import { teams } from "../api/teams-api";
import { RequireSignIn } from "../app/require-sign-in";

export function inviteErrorMessage(exc: unknown): string {
  if (exc instanceof ApiError) {
    if (exc.status === 410) return "This invite link has expired. Ask a team admin for a new one.";
    if (exc.status === 404)
      return "This invite link was already used or has been revoked. Invite links work only once.";
    if (exc.status === 409) return "You are already a member of this team.";
  }
  return errorMessage(exc);
}

function Accept({ token }: { token: string }) {
  const [state, setState] = useState<
    { kind: "idle" | "busy" } | { kind: "joined"; team: Workspace } | { kind: "error"; message: string }
  >({
    kind: "idle",
  });
  const accept = () => {
    setState({ kind: "busy" });
    teams.acceptInvite(token).then(
      (r) => setState({ kind: "joined", team: r.workspace }),
      (exc: unknown) => setState({ kind: "error", message: inviteErrorMessage(exc) }),
    );
  };
  return (
    <section className="fy-status">
      <h1>Team invitation</h1>
      {state.kind === "joined" ? (
        <p role="status">
          You joined <strong>{state.team.name}</strong> as {state.team.role}.{" "}
          <Link to={`/teams/${state.team.id}`}>Open the team</Link> or <Link to="/">see its workflows</Link>.
        </p>
      ) : (
        <>
          <p>You were invited to join a team on Flowyard.</p>
          <button type="button" onClick={accept} disabled={state.kind === "busy"}>
            {state.kind === "busy" ? "Joining…" : "Accept invitation"}
          </button>
          {state.kind === "error" && (
            <p className="fy-form-error" role="alert">
              {state.message}
            </p>
          )}
        </>
      )}
    </section>
  );
}

export function InvitePage() {
  const { token = "" } = useParams();
  return <RequireSignIn>{() => <Accept token={token} />}</RequireSignIn>;
}
