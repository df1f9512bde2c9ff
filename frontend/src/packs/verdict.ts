// What an upload's answer (or a polled version) means to its publisher: one headline, the server's sentence,
// every validation error with where it is (file:line, field, node), and the scan findings, high ones first.
import type { UploadAnswer } from "./packs-api";
import type { Finding, PackVersionFull, ValidationError } from "./pack-schemas";

export type VerdictTone = "ok" | "wait" | "warn" | "error";

export interface VerdictError {
  location: string;
  message: string;
  code: string | null;
}

export interface VerdictView {
  kind: "active" | "pending" | "flagged" | "rejected" | "validating";
  tone: VerdictTone;
  title: string;
  message: string;
  errors: VerdictError[];
  findings: Finding[];
  /** Still being validated: poll `GET /api/packs/versions/<versionId>`. */
  poll: boolean;
  versionId: number | null;
  pack: string | null;
  version: string | null;
}

const SEVERITY_RANK: Record<string, number> = { high: 0, medium: 1, low: 2 };

export function sortFindings(findings: readonly Finding[]): Finding[] {
  return [...findings].sort(
    (a, b) =>
      (SEVERITY_RANK[a.severity] ?? 3) - (SEVERITY_RANK[b.severity] ?? 3) ||
      (a.file ?? "").localeCompare(b.file ?? "") ||
      (a.line ?? 0) - (b.line ?? 0),
  );
}

/** "pkg/__init__.py:12", "flowyard.toml · field version", "node demo.Example"; "archive" when nothing is named. */
export function errorLocation(error: Partial<Pick<ValidationError, "file" | "line" | "field" | "node">>): string {
  const parts: string[] = [];
  if (error.file) parts.push(error.line != null ? `${error.file}:${error.line}` : error.file);
  if (error.field) parts.push(`field ${error.field}`);
  if (error.node) parts.push(`node ${error.node}`);
  return parts.join(" · ") || "archive";
}

export function findingLocation(finding: Finding): string {
  if (!finding.file) return "";
  return finding.line != null ? `${finding.file}:${finding.line}` : finding.file;
}

const TITLES: Record<VerdictView["kind"], string> = {
  active: "Published: this version is active and can be installed",
  pending: "Valid: waiting for a site admin's review",
  flagged: "Flagged: high-severity findings wait for a site admin",
  rejected: "Rejected",
  validating: "Validating…",
};
const TONES: Record<VerdictView["kind"], VerdictTone> = {
  active: "ok",
  pending: "wait",
  flagged: "warn",
  rejected: "error",
  validating: "wait",
};

function toErrors(items: readonly Partial<ValidationError>[] | undefined | null): VerdictError[] {
  return (items ?? []).map((e) => ({ location: errorLocation(e), message: e.message ?? "", code: e.code ?? null }));
}

function view(kind: VerdictView["kind"], parts: Omit<VerdictView, "kind" | "tone" | "title" | "poll">): VerdictView {
  return { kind, tone: TONES[kind], title: TITLES[kind], poll: kind === "validating", ...parts };
}

/** The verdict of `POST /api/packs/upload` (201, 202, 422, or a refusal such as 400/403/409/413). */
export function verdictFromUpload({ verdict }: UploadAnswer): VerdictView {
  const version = verdict.version;
  const kind = verdict.status;
  // A refusal before anything was stored has no report: its errors are `{field, message}`.
  const errors = verdict.report?.errors?.length
    ? toErrors(verdict.report.errors)
    : version?.errors?.length
      ? toErrors(version.errors)
      : toErrors(verdict.errors);
  const findings = sortFindings(verdict.report?.findings ?? version?.findings ?? []);
  return view(kind, {
    message: verdict.message || verdict.detail || "",
    errors:
      kind === "rejected" && !errors.length ? [{ location: "archive", message: verdict.message, code: null }] : errors,
    findings,
    versionId: version?.id ?? null,
    pack: version?.pack ?? null,
    version: version?.version ?? null,
  });
}

/** The verdict of a version polled after a 202 (or opened later). */
export function verdictFromVersion(version: PackVersionFull): VerdictView {
  const kind: VerdictView["kind"] = version.validated ? version.status : "validating";
  const errors = version.report?.errors?.length ? version.report.errors : (version.errors ?? []);
  return view(kind, {
    message: version.verdict,
    errors: toErrors(errors),
    findings: sortFindings(version.report?.findings?.length ? version.report.findings : version.findings),
    versionId: version.id,
    pack: version.pack,
    version: version.version,
  });
}

/** Delay before the n-th poll (0-based): 1 s, 2 s, 3 s, then every 5 s. */
export function pollDelay(attempt: number): number {
  return Math.min(5000, 1000 * (attempt + 1));
}

/** Badges for a version in lists: status, plus yanked/deprecated. */
export function versionBadges(v: {
  status: string;
  yanked: boolean;
  deprecated?: string | null | undefined;
}): { label: string; tone: VerdictTone; title?: string }[] {
  const badges: { label: string; tone: VerdictTone; title?: string }[] = [
    {
      label: v.status,
      tone: TONES[(v.status as VerdictView["kind"]) in TONES ? (v.status as VerdictView["kind"]) : "pending"],
    },
  ];
  if (v.yanked) badges.push({ label: "yanked", tone: "error" });
  if (v.deprecated) badges.push({ label: "deprecated", tone: "warn", title: v.deprecated });
  return badges;
}
