// What the team page offers the caller, from the role matrix of docs/permissions.md. The server decides; this
// only hides or disables what it would refuse, and says why.
import type { Role } from "../api/schemas";

export const ROLES: readonly Role[] = ["owner", "admin", "editor", "runner", "viewer"];
const RANK: Record<Role, number> = { owner: 4, admin: 3, editor: 2, runner: 1, viewer: 0 };

export const ROLE_HELP: Record<Role, string> = {
  owner: "everything, including deleting the team and transferring ownership",
  admin: "manage members below admin, rename the team, see private workflows",
  editor: "create and change workflows, run them",
  runner: "run workflows and upload inputs",
  viewer: "see workflows and runs",
};

export function outranks(a: Role, b: Role): boolean {
  return RANK[a] > RANK[b];
}

export function canManageMembers(role: Role): boolean {
  return role === "owner" || role === "admin";
}

/** Roles the caller may give: strictly below their own; never owner (ownership moves by a transfer). */
export function assignableRoles(caller: Role): Role[] {
  if (!canManageMembers(caller)) return [];
  return ROLES.filter((r) => r !== "owner" && outranks(caller, r));
}

export type Decision = { allowed: true } | { allowed: false; reason: string };
const yes: Decision = { allowed: true };
const no = (reason: string): Decision => ({ allowed: false, reason });

/** May the caller change the role of, or remove, this member? */
export function memberDecision(caller: { id: number; role: Role }, member: { id: number; role: Role }): Decision {
  if (member.id === caller.id) return no("You cannot change your own role or remove yourself; leave the team instead.");
  if (!canManageMembers(caller.role)) return no("Only the owner and admins manage members.");
  if (!outranks(caller.role, member.role)) {
    return no(
      member.role === "owner"
        ? "Nobody can change the owner; the owner transfers ownership."
        : `Only someone ranked above ${member.role} can change this member.`,
    );
  }
  return yes;
}

export function leaveDecision(role: Role): Decision {
  return role === "owner" ? no("The owner cannot leave: transfer ownership to another member first.") : yes;
}

export function transferDecision(caller: Role, memberCount: number): Decision {
  if (caller !== "owner") return no("Only the owner can transfer ownership.");
  if (memberCount < 2) return no("Add another member first.");
  return yes;
}

/** Workspaces where the caller may create workflows (fork targets): editor and above. */
export function editableWorkspaces<W extends { role: Role }>(spaces: readonly W[]): W[] {
  return spaces.filter((s) => s.role === "owner" || s.role === "admin" || s.role === "editor");
}

/** Why an editor action on a workflow is unavailable, or null when allowed. */
export function workflowEditReason(permissions: { edit: boolean } | null | undefined): string | null {
  if (!permissions) return "Save the workflow first.";
  return permissions.edit
    ? null
    : "Your role in this workspace lets you view (and maybe run) this workflow, not change it. Fork it into your own workspace to edit.";
}
