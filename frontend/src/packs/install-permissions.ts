// Who may install which version where (docs/permissions.md "Node packs"). The server decides; this only offers
// what it would accept and says why something is not offered.
import type { Role } from "../api/schemas";
import type { Decision } from "../teams/team-permissions";
import type { PackVersion, PackVisibility } from "./pack-schemas";

export function canInstallIn(role: Role): boolean {
  return role === "owner" || role === "admin";
}

export interface InstallTarget<W> {
  workspace: W;
  decision: Decision;
}

/**
 * Each of the caller's workspaces with whether a pack of `visibility` may be installed there: owner/admin only,
 * and team-only or private packs only in their publisher's own workspace (`home`; null when unknown).
 */
export function installTargets<W extends { id: number; role: Role; name: string; kind: string }>(
  spaces: readonly W[],
  pack: { name: string; visibility: PackVisibility },
  home: number | null,
): InstallTarget<W>[] {
  return spaces.map((workspace) => {
    if (!canInstallIn(workspace.role)) {
      return {
        workspace,
        decision: {
          allowed: false,
          reason: `Only the workspace's owner and admins install packs (you are ${workspace.role}).`,
        },
      };
    }
    if (pack.visibility !== "public" && workspace.id !== home) {
      const what = pack.visibility === "team" ? "team-only" : "private";
      return {
        workspace,
        decision: {
          allowed: false,
          reason: `${pack.name} is ${what}: it installs only in its publisher's own workspace.`,
        },
      };
    }
    return { workspace, decision: { allowed: true } };
  });
}

/** The publisher's own workspace: a team publisher's team, or the caller's personal one when the caller is it. */
export function publisherHome(
  publisher: { workspace: number | null; user: { id: number } | null } | null,
  me: { id: number; personal_workspace: { id: number } },
): number | null {
  if (!publisher) return null;
  if (publisher.workspace !== null) return publisher.workspace;
  return publisher.user?.id === me.id ? me.personal_workspace.id : null;
}

/** May this version be newly installed (or pinned)? Active and not yanked; deprecated ones still may. */
export function versionInstallDecision(
  v: Pick<PackVersion, "version" | "status" | "yanked" | "yank_reason" | "validated">,
): Decision {
  if (v.yanked)
    return { allowed: false, reason: `${v.version} was yanked${v.yank_reason ? `: ${v.yank_reason}` : ""}.` };
  if (!v.validated) return { allowed: false, reason: `${v.version} is still being validated.` };
  if (v.status === "pending") return { allowed: false, reason: `${v.version} waits for a site admin's review.` };
  if (v.status === "flagged") return { allowed: false, reason: `${v.version} is flagged and waits for review.` };
  if (v.status === "rejected") return { allowed: false, reason: `${v.version} was rejected.` };
  return { allowed: true };
}

/** Versions offered in the install / pin picker, newest first as the server lists them. */
export function installableVersions<
  V extends Pick<PackVersion, "version" | "status" | "yanked" | "yank_reason" | "validated">,
>(versions: readonly V[]): V[] {
  return versions.filter((v) => versionInstallDecision(v).allowed);
}

/** What installing `target` over an existing pin does, in words for the button. */
export function installAction(
  installed: string | null | undefined,
  target: string,
  compare: (a: string, b: string) => number = compareVersions,
): string {
  if (!installed) return `Install ${target}`;
  const c = compare(target, installed);
  if (c === 0) return `${target} is installed`;
  return c > 0 ? `Upgrade to ${target}` : `Pin to ${target} (downgrade)`;
}

/** Semantic version order (pre-releases before their release); unknown shapes compare as strings. */
export function compareVersions(a: string, b: string): number {
  const parse = (v: string) => {
    const [core = "", pre] = v.split("-", 2);
    return { nums: core.split(".").map((n) => Number(n)), pre: pre ?? null };
  };
  const x = parse(a);
  const y = parse(b);
  for (let i = 0; i < Math.max(x.nums.length, y.nums.length); i++) {
    const d = (x.nums[i] ?? 0) - (y.nums[i] ?? 0);
    if (Number.isNaN(d)) return a.localeCompare(b);
    if (d) return d > 0 ? 1 : -1;
  }
  if (x.pre === y.pre) return 0;
  if (x.pre === null) return 1;
  if (y.pre === null) return -1;
  return x.pre.localeCompare(y.pre, undefined, { numeric: true });
}
