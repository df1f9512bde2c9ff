import { describe, expect, it } from "vitest";
import type { Workspace } from "../api/schemas";
import samples from "./__fixtures__/backend-samples.json";
import {
  compareVersions,
  installAction,
  installableVersions,
  installTargets,
  publisherHome,
  versionInstallDecision,
} from "./install-permissions";
import { packDetailSchema, packVersionSchema } from "./pack-schemas";

const ws = (id: number, role: Workspace["role"], kind: Workspace["kind"] = "team"): Workspace => ({
  id,
  slug: `w${id}`,
  name: `W${id}`,
  kind,
  role,
});
const spaces = [ws(1, "owner", "personal"), ws(2, "admin"), ws(3, "editor"), ws(4, "viewer")];

describe("where a pack may be installed", () => {
  it("public packs: workspaces where the caller is owner or admin", () => {
    const t = installTargets(spaces, { name: "demo", visibility: "public" }, null);
    expect(t.map((x) => x.decision.allowed)).toEqual([true, true, false, false]);
    expect(t[2]!.decision).toEqual({
      allowed: false,
      reason: "Only the workspace's owner and admins install packs (you are editor).",
    });
  });
  it("team-only and private packs: only the publisher's own workspace", () => {
    const t = installTargets(spaces, { name: "demo", visibility: "team" }, 2);
    expect(t.map((x) => x.decision.allowed)).toEqual([false, true, false, false]);
    expect(t[0]!.decision).toMatchObject({
      reason: "demo is team-only: it installs only in its publisher's own workspace.",
    });
    expect(installTargets(spaces, { name: "demo", visibility: "private" }, null).some((x) => x.decision.allowed)).toBe(
      false,
    );
  });
  it("finds the publisher's home workspace", () => {
    const me = { id: 7, personal_workspace: { id: 70 } };
    expect(publisherHome({ workspace: 5, user: null }, me)).toBe(5);
    expect(publisherHome({ workspace: null, user: { id: 7 } }, me)).toBe(70);
    expect(publisherHome({ workspace: null, user: { id: 8 } }, me)).toBeNull();
    expect(publisherHome(null, me)).toBeNull();
  });
});

describe("which versions may be installed", () => {
  const base = packVersionSchema.parse(samples.pack_detail.versions[0]);
  it("active, not yanked (deprecated ones still may)", () => {
    expect(versionInstallDecision(base)).toEqual({ allowed: true });
    expect(versionInstallDecision({ ...base, deprecated: "old" } as typeof base)).toEqual({ allowed: true });
    expect(versionInstallDecision({ ...base, yanked: true, yank_reason: "broken" })).toEqual({
      allowed: false,
      reason: "0.2.0 was yanked: broken.",
    });
    expect(versionInstallDecision({ ...base, status: "flagged" }).allowed).toBe(false);
    expect(versionInstallDecision({ ...base, status: "pending" }).allowed).toBe(false);
    expect(versionInstallDecision({ ...base, validated: false }).allowed).toBe(false);
  });
  it("filters a recorded pack's versions", () => {
    const detail = packDetailSchema.parse(samples.pack_detail);
    expect(installableVersions(detail.versions).map((v) => v.version)).toEqual(["0.2.0", "0.1.0"]);
    const manager = packDetailSchema.parse(samples.pack_detail_manager);
    expect(installableVersions(manager.versions).every((v) => v.status === "active" && !v.yanked)).toBe(true);
  });
  it("words the install button", () => {
    expect(installAction(null, "1.0.0")).toBe("Install 1.0.0");
    expect(installAction("1.0.0", "1.2.0")).toBe("Upgrade to 1.2.0");
    expect(installAction("1.2.0", "1.0.0")).toBe("Pin to 1.0.0 (downgrade)");
    expect(installAction("1.2.0", "1.2.0")).toBe("1.2.0 is installed");
  });
  it("orders semantic versions", () => {
    expect(compareVersions("0.10.0", "0.9.1")).toBe(1);
    expect(compareVersions("1.0.0-beta.2", "1.0.0")).toBe(-1);
    expect(compareVersions("1.0.0-beta.10", "1.0.0-beta.2")).toBe(1);
    expect(compareVersions("1.0", "1.0.0")).toBe(0);
  });
});
