// Loading and error states a person understands.
import { Link } from "react-router";
import { ApiError, errorMessage } from "../api/client";

export function Loading({ what }: { what: string }) {
  return (
    <div className="fy-status" role="status">
      <span className="fy-spinner" aria-hidden /> Loading {what}…
    </div>
  );
}

export function ErrorState({ title, error, onRetry }: { title: string; error: unknown; onRetry?: () => void }) {
  const status = error instanceof ApiError ? error.status : null;
  let hint = "";
  if (status === 0) hint = "The server did not answer. Is it running?";
  else if (status === 404)
    hint = "The server does not know this address. The feature may not be available yet, or the item was removed.";
  else if (status === 401 || status === 403) hint = "Sign in to continue.";
  return (
    <div className="fy-status fy-error" role="alert">
      <h2>{title}</h2>
      <p>{errorMessage(error)}</p>
      {hint && <p className="fy-hint">{hint}</p>}
      <p className="fy-actions">
        {onRetry && (
          <button type="button" onClick={onRetry}>
            Try again
          </button>
        )}
        {(status === 401 || status === 403) && <Link to="/login">Sign in</Link>}
        <Link to="/">Home</Link>
      </p>
    </div>
  );
}
