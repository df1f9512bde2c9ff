import { describe, expect, it } from "vitest";
import {
  assignableRoles,
  editableWorkspaces,
  leaveDecision,
  memberDecision,
  transferDecision,
  workflowEditReason,
} from "./team-permissions";

describe("team permissions", () => {
  it("gives only roles strictly below the caller, never owner", () => {
    expect(assignableRoles("owner")).toEqual(["admin", "editor", "runner", "viewer"]);
    expect(assignableRoles("admin")).toEqual(["editor", "runner", "viewer"]);
    expect(assignableRoles("editor")).toEqual([]);
  });

  it("lets a manager act on members ranked below only, and says why not", () => {
    expect(memberDecision({ id: 1, role: "owner" }, { id: 2, role: "admin" })).toEqual({ allowed: true });
    expect(memberDecision({ id: 1, role: "admin" }, { id: 2, role: "editor" })).toEqual({ allowed: true });
    const peer = memberDecision({ id: 1, role: "admin" }, { id: 2, role: "admin" });
    expect(peer.allowed).toBe(false);
    const owner = memberDecision({ id: 1, role: "admin" }, { id: 2, role: "owner" });
    expect(!owner.allowed && owner.reason).toMatch(/transfers ownership/);
    const self = memberDecision({ id: 1, role: "owner" }, { id: 1, role: "owner" });
    expect(!self.allowed && self.reason).toMatch(/leave the team/);
    const editor = memberDecision({ id: 1, role: "editor" }, { id: 2, role: "viewer" });
    expect(!editor.allowed && editor.reason).toMatch(/owner and admins/);
  });

  it("keeps the owner in until a transfer; transfer needs the owner and another member", () => {
    expect(leaveDecision("owner").allowed).toBe(false);
    expect(leaveDecision("viewer").allowed).toBe(true);
    expect(transferDecision("owner", 2).allowed).toBe(true);
    expect(transferDecision("owner", 1).allowed).toBe(false);
    expect(transferDecision("admin", 3).allowed).toBe(false);
  });

  it("forks only into workspaces where the caller edits; explains view-only workflows", () => {
    const spaces = [
      { id: 1, role: "owner" as const },
      { id: 2, role: "viewer" as const },
      { id: 3, role: "editor" as const },
      { id: 4, role: "runner" as const },
    ];
    expect(editableWorkspaces(spaces).map((s) => s.id)).toEqual([1, 3]);
    expect(workflowEditReason({ edit: true })).toBeNull();
    expect(workflowEditReason({ edit: false })).toMatch(/Fork it/);
  });
});
