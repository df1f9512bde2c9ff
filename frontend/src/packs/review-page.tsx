// /packs/review (Django admin owns /admin/): site admins review flagged and pending versions (oldest first) with their findings; approve, or
// reject with a reason (required).
import { useState } from "react";
import { Link } from "react-router";
import { errorMessage } from "../api/client";
import type { User } from "../api/schemas";
import { RequireSignIn } from "../app/require-sign-in";
import { ErrorState, Loading } from "../app/status-views";
import { useAsync } from "../app/use-async";
import { relativeTime } from "../workflows/diff-summary";
import type { ReviewItem } from "./pack-schemas";
import { Badge, FindingsList, VersionBadges } from "./pack-widgets";
import { packsApi } from "./packs-api";
import { sortFindings } from "./verdict";

function ReviewCard({ item, onDone }: { item: ReviewItem; onDone(message: string): void }) {
  const [reason, setReason] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const act = (verb: "approve" | "reject") => {
    if (verb === "reject" && !reason.trim()) {
      setError("Say why it is rejected: the publisher sees this reason.");
      return;
    }
    setBusy(true);
    setError(null);
    const call =
      verb === "approve" ? packsApi.approve(item.id, reason.trim()) : packsApi.reject(item.id, reason.trim());
    call.then(
      (v) => onDone(`${v.pack} ${v.version}: ${v.verdict}`),
      (exc: unknown) => {
        setError(errorMessage(exc));
        setBusy(false);
      },
    );
  };
  return (
    <li className="fy-review-card" data-testid={`review-${item.pack}-${item.version}`}>
      <header>
        <Link to={`/packs/${encodeURIComponent(item.pack)}`}>
          <strong>{item.pack}</strong> {item.version}
        </Link>{" "}
        <VersionBadges v={item} /> by{" "}
        <Link to={`/publishers/${encodeURIComponent(item.publisher)}`}>{item.publisher}</Link>
        {item.uploaded_by && <span className="fy-muted"> (uploaded by {item.uploaded_by.username})</span>}
        <span className="fy-muted"> · {relativeTime(item.created)}</span>
      </header>
      <p>{item.verdict}</p>
      {!item.validated && <Badge tone="wait">still validating: approve becomes possible once it is validated</Badge>}
      <FindingsList findings={sortFindings(item.findings)} />
      <div className="fy-review-actions">
        <input
          aria-label={`Reason for ${item.pack} ${item.version}`}
          placeholder="Reason (required to reject; optional note on approve)"
          value={reason}
          onChange={(e) => setReason(e.target.value)}
        />
        <button type="button" disabled={busy || !item.validated} onClick={() => act("approve")}>
          Approve
        </button>
        <button type="button" className="fy-danger" disabled={busy} onClick={() => act("reject")}>
          Reject
        </button>
      </div>
      {error && (
        <p className="fy-form-error" role="alert">
          {error}
        </p>
      )}
    </li>
  );
}

function Review() {
  const queue = useAsync(() => packsApi.reviewQueue(), []);
  const [done, setDone] = useState<string[]>([]);
  return (
    <section className="fy-page fy-page-wide">
      <header className="fy-page-header">
        <h1>Pack review</h1>
        <span className="fy-spacer" />
        <button type="button" onClick={queue.reload}>
          Refresh
        </button>
      </header>
      <p className="fy-hint">
        Flagged versions have high-severity scan findings; pending ones are clean uploads of publishers who are not
        trusted. Nothing here can be installed until you approve it.
      </p>
      {done.length > 0 && (
        <ul className="fy-plain-list" role="status">
          {done.map((d, i) => (
            <li key={i} className="fy-ok">
              {d}
            </li>
          ))}
        </ul>
      )}
      {queue.status === "loading" && <Loading what="the review queue" />}
      {queue.status === "error" && (
        <ErrorState title="Could not load the review queue" error={queue.error} onRetry={queue.reload} />
      )}
      {queue.status === "ready" &&
        (queue.data.length ? (
          <ul className="fy-review-list">
            {queue.data.map((item) => (
              <ReviewCard
                key={item.id}
                item={item}
                onDone={(message) => {
                  setDone((d) => [message, ...d]);
                  queue.reload();
                }}
              />
            ))}
          </ul>
        ) : (
          <div className="fy-empty-state">
            <h2>Nothing to review</h2>
            <p>No version waits for a site admin.</p>
          </div>
        ))}
    </section>
  );
}

function ReviewGate({ user }: { user: User }) {
  if (!user.is_site_admin) {
    return (
      <div className="fy-status">
        <h1>Site admins only</h1>
        <p>Pack review is done by the installation's site admins.</p>
        <Link to="/packs">Back to the marketplace</Link>
      </div>
    );
  }
  return <Review />;
}

export function ReviewPage() {
  return <RequireSignIn>{(user) => <ReviewGate user={user} />}</RequireSignIn>;
}
