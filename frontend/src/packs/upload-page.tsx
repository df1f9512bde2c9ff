// /packs/upload: publish a new pack or version (a .flowyard.zip built by `flowyard pack build`) and show the
// verdict: rejected with every error, flagged with its findings, pending review, or active. A 202 is polled.
import { useEffect, useRef, useState, type FormEvent } from "react";
import { Link } from "react-router";
import { errorMessage } from "../api/client";
import type { User } from "../api/schemas";
import { RequireSignIn } from "../app/require-sign-in";
import { usePolled } from "../app/use-polled";
import type { PackVisibility } from "./pack-schemas";
import { VerdictPanel } from "./pack-widgets";
import { packsApi } from "./packs-api";
import { pollDelay, verdictFromUpload, verdictFromVersion, type VerdictView } from "./verdict";

export const MAX_ARCHIVE_BYTES = 20 * 1024 * 1024;

function personalSlug(username: string): string {
  return username.toLowerCase().replace(/[_.]/g, "-");
}

/** The verdict of the version `versionId` (null: none): asked at once, then again after pollDelay(0),
 * pollDelay(1), ... while it is not settled; a failed check stops it. `null` until the version's first answer. */
function useVerdict(versionId: number | null): { verdict: VerdictView | null; error: unknown } {
  const attempts = useRef(0);
  const polled = usePolled(
    (signal) =>
      versionId === null ? Promise.resolve(null) : packsApi.versionById(versionId, signal).then(verdictFromVersion),
    [versionId],
    (v, error) => (error || !v?.poll ? null : pollDelay(attempts.current++)),
  );
  useEffect(() => {
    attempts.current = 0;
  }, [versionId]);
  // The hook keeps the last good data across a change of version: only this version's verdict is shown.
  const mine = polled.data !== null && polled.data.versionId === versionId;
  return { verdict: mine ? polled.data : null, error: mine || polled.data === null ? polled.error : null };
}

function Upload({ user }: { user: User }) {
  const [file, setFile] = useState<File | null>(null);
  const [visibility, setVisibility] = useState<PackVisibility>("public");
  const [busy, setBusy] = useState(false);
  const [answer, setAnswer] = useState<VerdictView | null>(null);
  const [error, setError] = useState<string | null>(null);
  // A 202 (still validating or waiting for review) is followed through the version until it settles.
  const [following, setFollowing] = useState<number | null>(null);
  const followed = useVerdict(following);
  const verdict = following !== null ? (followed.verdict ?? answer) : answer;

  const reset = () => {
    setAnswer(null);
    setError(null);
    setFollowing(null);
  };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!file) return;
    setBusy(true);
    reset();
    packsApi.upload(file, visibility).then(
      (answered) => {
        const v = verdictFromUpload(answered);
        setAnswer(v);
        setBusy(false);
        if (v.poll && v.versionId !== null) setFollowing(v.versionId);
      },
      (exc: unknown) => {
        setError(errorMessage(exc));
        setBusy(false);
      },
    );
  };
  const shownError =
    error ??
    (following !== null && followed.error
      ? `Could not check the verdict: ${errorMessage(followed.error)}. Reload this version's pack page later.`
      : null);
  const tooLarge = file !== null && file.size > MAX_ARCHIVE_BYTES;
  return (
    <section className="fy-page">
      <p>
        <Link to="/packs">← Marketplace</Link>
      </p>
      <h1>Publish a node pack</h1>
      <p className="fy-hint">
        Build the archive with <code>flowyard pack build</code> (or publish from the command line with{" "}
        <code>flowyard pack publish</code>). To publish as yourself, set{" "}
        <code>publisher = "{personalSlug(user.username)}"</code> in <code>flowyard.toml</code>. The server validates the
        archive and scans its code; clean versions from trusted publishers become active at once, others wait for a site
        admin.
      </p>
      <form className="fy-upload-form" onSubmit={submit} aria-label="Upload pack">
        <label>
          Archive (.flowyard.zip, at most 20 MiB)
          <input
            type="file"
            accept=".zip,application/zip"
            aria-label="Archive"
            onChange={(e) => {
              setFile(e.target.files?.[0] ?? null);
              reset();
            }}
          />
        </label>
        <label>
          Visibility (new packs only)
          <select
            aria-label="Visibility"
            value={visibility}
            onChange={(e) => setVisibility(e.target.value as PackVisibility)}
          >
            <option value="public">public: every signed-in user</option>
            <option value="team">team-only: the publisher's team</option>
            <option value="private">private: the publisher's managers</option>
          </select>
        </label>
        {tooLarge && <p className="fy-form-error">This file is larger than the 20 MiB limit.</p>}
        <p className="fy-actions">
          <button type="submit" disabled={!file || busy || tooLarge}>
            {busy ? "Uploading and validating…" : "Upload"}
          </button>
          {busy && <small className="fy-hint">Validation can take up to 20 seconds.</small>}
        </p>
      </form>
      {shownError && (
        <p className="fy-form-error" role="alert">
          {shownError}
        </p>
      )}
      {verdict && <VerdictPanel verdict={verdict} />}
    </section>
  );
}

export function UploadPage() {
  return <RequireSignIn>{(user) => <Upload user={user} />}</RequireSignIn>;
}
