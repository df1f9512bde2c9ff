// /packs/upload: publish a new pack or version (a .flowyard.zip built by `flowyard pack build`) and show the
// verdict: rejected with every error, flagged with its findings, pending review, or active. A 202 is polled.
import { useEffect, useRef, useState, type FormEvent } from "react";
import { Link } from "react-router";
import { errorMessage } from "../api/client";
import type { User } from "../api/schemas";
import { RequireSignIn } from "../app/require-sign-in";
import type { PackVisibility } from "./pack-schemas";
import { VerdictPanel } from "./pack-widgets";
import { packsApi } from "./packs-api";
import { pollDelay, verdictFromUpload, verdictFromVersion, type VerdictView } from "./verdict";

export const MAX_ARCHIVE_BYTES = 20 * 1024 * 1024;

function personalSlug(username: string): string {
  return username.toLowerCase().replace(/[_.]/g, "-");
}

function Upload({ user }: { user: User }) {
  const [file, setFile] = useState<File | null>(null);
  const [visibility, setVisibility] = useState<PackVisibility>("public");
  const [busy, setBusy] = useState(false);
  const [verdict, setVerdict] = useState<VerdictView | null>(null);
  const [error, setError] = useState<string | null>(null);
  const polling = useRef<AbortController | null>(null);
  useEffect(() => () => polling.current?.abort(), []);

  const poll = (id: number) => {
    polling.current?.abort();
    const controller = new AbortController();
    polling.current = controller;
    let attempt = 0;
    const tick = () => {
      if (controller.signal.aborted) return;
      packsApi.versionById(id, controller.signal).then(
        (v) => {
          if (controller.signal.aborted) return;
          const next = verdictFromVersion(v);
          setVerdict(next);
          if (next.poll) setTimeout(tick, pollDelay(attempt++));
        },
        (exc: unknown) => {
          if (!controller.signal.aborted)
            setError(`Could not check the verdict: ${errorMessage(exc)}. Reload this version's pack page later.`);
        },
      );
    };
    setTimeout(tick, pollDelay(attempt++));
  };

  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!file) return;
    setBusy(true);
    setVerdict(null);
    setError(null);
    polling.current?.abort();
    packsApi.upload(file, visibility).then(
      (answer) => {
        const v = verdictFromUpload(answer);
        setVerdict(v);
        setBusy(false);
        if (v.poll && v.versionId !== null) poll(v.versionId);
      },
      (exc: unknown) => {
        setError(errorMessage(exc));
        setBusy(false);
      },
    );
  };
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
              setVerdict(null);
              setError(null);
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
      {error && (
        <p className="fy-form-error" role="alert">
          {error}
        </p>
      )}
      {verdict && <VerdictPanel verdict={verdict} />}
    </section>
  );
}

export function UploadPage() {
  return <RequireSignIn>{(user) => <Upload user={user} />}</RequireSignIn>;
}
