// /teams/:id: members and roles, invites by username and by link, installed node packs, leave, transfer ownership,
// rename, delete.
// Actions the caller's role does not allow are disabled with the reason shown.
import { useState, type FormEvent } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { errorMessage } from "../api/client";
import type { Role, User, Workspace } from "../api/schemas";
import { teams, type NewInvite, type TeamMember } from "../api/teams-api";
import { copyText, RequireSignIn } from "../app/require-sign-in";
import { ErrorState, Loading } from "../app/status-views";
import { useAsync } from "../app/use-async";
import { relativeTime } from "../workflows/diff-summary";
import { TeamPacks } from "../packs/team-packs";
import {
  assignableRoles,
  canManageMembers,
  leaveDecision,
  memberDecision,
  ROLE_HELP,
  transferDecision,
} from "./team-permissions";

function useAction() {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const run = (work: () => Promise<unknown>, after?: () => void) => {
    setBusy(true);
    setError(null);
    work().then(
      () => {
        setBusy(false);
        after?.();
      },
      (exc: unknown) => {
        setBusy(false);
        setError(errorMessage(exc));
      },
    );
  };
  return { error, busy, run };
}

function MemberRow({
  team,
  me,
  member,
  onChanged,
}: {
  team: Workspace;
  me: User;
  member: TeamMember;
  onChanged(): void;
}) {
  const decision = memberDecision({ id: me.id, role: team.role }, { id: member.user.id, role: member.role });
  const action = useAction();
  const roles = assignableRoles(team.role);
  return (
    <tr data-member={member.user.username}>
      <td>
        {member.user.username}
        {member.user.id === me.id && <small> (you)</small>}
      </td>
      <td>
        {decision.allowed ? (
          <select
            aria-label={`Role of ${member.user.username}`}
            value={member.role}
            disabled={action.busy}
            onChange={(e) => action.run(() => teams.changeRole(team.id, member.user.id, e.target.value), onChanged)}
          >
            {roles.map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
        ) : (
          <span title={decision.reason}>{member.role}</span>
        )}
      </td>
      <td>{relativeTime(member.joined)}</td>
      <td>
        {decision.allowed ? (
          <button
            type="button"
            disabled={action.busy}
            onClick={() => {
              if (window.confirm(`Remove ${member.user.username} from ${team.name}?`)) {
                action.run(() => teams.removeMember(team.id, member.user.id), onChanged);
              }
            }}
          >
            Remove
          </button>
        ) : (
          <small className="fy-hint">{decision.reason}</small>
        )}
        {action.error && (
          <span className="fy-form-error" role="alert">
            {" "}
            {action.error}
          </span>
        )}
      </td>
    </tr>
  );
}

function InviteByUsername({ team, onAdded }: { team: Workspace; onAdded(): void }) {
  const action = useAction();
  const roles = assignableRoles(team.role);
  const submit = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const form = e.currentTarget;
    const data = new FormData(form);
    action.run(
      () => teams.addMember(team.id, String(data.get("username") ?? "").trim(), String(data.get("role"))),
      () => {
        form.reset();
        onAdded();
      },
    );
  };
  return (
    <form className="fy-inline-form" onSubmit={submit} aria-label="Invite by username">
      <input name="username" placeholder="Username" required aria-label="Username to invite" />
      <select
        name="role"
        defaultValue={roles.includes("editor") ? "editor" : roles[0]}
        aria-label="Role for the new member"
      >
        {roles.map((r) => (
          <option key={r} value={r}>
            {r}
          </option>
        ))}
      </select>
      <button type="submit" disabled={action.busy}>
        Add member
      </button>
      {action.error && (
        <span className="fy-form-error" role="alert">
          {action.error}
        </span>
      )}
    </form>
  );
}

function InviteLinks({ team }: { team: Workspace }) {
  const list = useAsync(() => teams.invites(team.id), [team.id]);
  const action = useAction();
  const [fresh, setFresh] = useState<NewInvite | null>(null);
  const [copied, setCopied] = useState(false);
  const roles = assignableRoles(team.role);
  const submit = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const data = new FormData(e.currentTarget);
    action.run(async () => {
      const invite = await teams.createInvite(team.id, String(data.get("role")), Number(data.get("hours")));
      setFresh(invite);
      setCopied(false);
      list.reload();
    });
  };
  return (
    <section>
      <h2>Invite links</h2>
      <p className="fy-hint">A link works once: the first person who opens it while signed in joins with its role.</p>
      <form className="fy-inline-form" onSubmit={submit} aria-label="Create invite link">
        <select
          name="role"
          defaultValue={roles.includes("editor") ? "editor" : roles[0]}
          aria-label="Role for the link"
        >
          {roles.map((r) => (
            <option key={r} value={r}>
              {r}
            </option>
          ))}
        </select>
        <select name="hours" defaultValue="72" aria-label="Link expires after">
          <option value="1">expires in 1 hour</option>
          <option value="24">expires in 1 day</option>
          <option value="72">expires in 3 days</option>
          <option value="168">expires in 1 week</option>
          <option value="720">expires in 30 days</option>
        </select>
        <button type="submit" disabled={action.busy}>
          Create link
        </button>
        {action.error && (
          <span className="fy-form-error" role="alert">
            {action.error}
          </span>
        )}
      </form>
      {fresh && (
        <div className="fy-secret" role="status">
          <p>Copy this link now: it is shown only once.</p>
          <code data-testid="invite-url">{fresh.url}</code>{" "}
          <button type="button" onClick={() => void copyText(fresh.url).then(setCopied)}>
            {copied ? "Copied" : "Copy"}
          </button>
        </div>
      )}
      {list.status === "loading" && <Loading what="invite links" />}
      {list.status === "error" && <p className="fy-form-error">{errorMessage(list.error)}</p>}
      {list.status === "ready" &&
        (list.data.length ? (
          <table className="fy-table">
            <thead>
              <tr>
                <th>Role</th>
                <th>Created</th>
                <th>Expires</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {list.data.map((inv) => (
                <tr key={inv.id}>
                  <td>{inv.role}</td>
                  <td>
                    {relativeTime(inv.created)}
                    {inv.created_by ? ` by ${inv.created_by.username}` : ""}
                  </td>
                  <td>{new Date(inv.expires).toLocaleString()}</td>
                  <td>
                    <button
                      type="button"
                      onClick={() => action.run(() => teams.revokeInvite(team.id, inv.id), list.reload)}
                    >
                      Revoke
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : (
          <p className="fy-empty">No pending invite links.</p>
        ))}
    </section>
  );
}

function TeamSettings({ me, teamId }: { me: User; teamId: number }) {
  const navigate = useNavigate();
  const data = useAsync(() => Promise.all([teams.get(teamId), teams.members(teamId)]), [teamId]);
  const action = useAction();
  const [transferTo, setTransferTo] = useState<string>("");
  if (data.status === "loading") return <Loading what="the team" />;
  if (data.status === "error")
    return <ErrorState title="Could not open this team" error={data.error} onRetry={data.reload} />;
  const [team, members] = data.data;
  const leave = leaveDecision(team.role);
  const transfer = transferDecision(team.role, members.length);
  const others = members.filter((m) => m.user.id !== me.id);
  return (
    <section className="fy-page">
      <p>
        <Link to="/">← Home</Link>
      </p>
      <header className="fy-page-header">
        <h1>{team.name}</h1>
        <span className="fy-role" title={ROLE_HELP[team.role]}>
          your role: {team.role}
        </span>
      </header>
      {action.error && (
        <p className="fy-form-error" role="alert">
          {action.error}
        </p>
      )}
      <section>
        <h2>Members ({members.length})</h2>
        <table className="fy-table fy-members">
          <thead>
            <tr>
              <th>User</th>
              <th>Role</th>
              <th>Joined</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {members.map((m) => (
              <MemberRow key={m.user.id} team={team} me={me} member={m} onChanged={data.reload} />
            ))}
          </tbody>
        </table>
        <details className="fy-hint">
          <summary>What each role may do</summary>
          <ul>
            {(Object.keys(ROLE_HELP) as Role[]).map((r) => (
              <li key={r}>
                <strong>{r}</strong>: {ROLE_HELP[r]}
              </li>
            ))}
          </ul>
        </details>
      </section>
      {canManageMembers(team.role) ? (
        <>
          <section>
            <h2>Invite by username</h2>
            <InviteByUsername team={team} onAdded={data.reload} />
          </section>
          <InviteLinks team={team} />
        </>
      ) : (
        <p className="fy-hint">Only the owner and admins invite or manage members.</p>
      )}
      <TeamPacks workspace={team.id} role={team.role} />
      <section>
        <h2>Leave or hand over</h2>
        <p className="fy-actions">
          <button
            type="button"
            disabled={!leave.allowed || action.busy}
            title={leave.allowed ? "" : leave.reason}
            onClick={() => {
              if (window.confirm(`Leave ${team.name}?`))
                action.run(
                  () => teams.leave(team.id),
                  () => navigate("/"),
                );
            }}
          >
            Leave team
          </button>
          {!leave.allowed && <small className="fy-hint">{leave.reason}</small>}
        </p>
        {transfer.allowed ? (
          <form
            className="fy-inline-form"
            aria-label="Transfer ownership"
            onSubmit={(e) => {
              e.preventDefault();
              const member = others.find((m) => String(m.user.id) === transferTo);
              if (member && window.confirm(`Make ${member.user.username} the owner? You become an admin.`)) {
                action.run(() => teams.transfer(team.id, member.user.id), data.reload);
              }
            }}
          >
            <select aria-label="New owner" value={transferTo} onChange={(e) => setTransferTo(e.target.value)} required>
              <option value="">Choose a member…</option>
              {others.map((m) => (
                <option key={m.user.id} value={m.user.id}>
                  {m.user.username} ({m.role})
                </option>
              ))}
            </select>
            <button type="submit" disabled={!transferTo || action.busy}>
              Transfer ownership
            </button>
          </form>
        ) : (
          <p className="fy-hint">Transfer ownership: {transfer.reason}</p>
        )}
      </section>
      {team.role === "owner" && (
        <section>
          <h2>Danger zone</h2>
          <button
            type="button"
            className="fy-danger"
            onClick={() => {
              if (window.confirm(`Delete ${team.name} and all its workflows? This cannot be undone.`)) {
                action.run(
                  () => teams.remove(team.id),
                  () => navigate("/"),
                );
              }
            }}
          >
            Delete team
          </button>
        </section>
      )}
    </section>
  );
}

export function TeamPage() {
  const params = useParams();
  const id = Number(params.id);
  return (
    <RequireSignIn>
      {(user) =>
        Number.isInteger(id) ? (
          <TeamSettings me={user} teamId={id} />
        ) : (
          <ErrorState title="No such team" error={new Error(`"${params.id}" is not a team id.`)} />
        )
      }
    </RequireSignIn>
  );
}
