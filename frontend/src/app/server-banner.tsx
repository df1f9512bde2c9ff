import { useServerUnavailable } from "./server-status";

// Inline style: the banner belongs to this file alone (CSP allows style attributes).
const BANNER_STYLE = {
  background: "#8a4b00",
  color: "#fff",
  padding: "6px 12px",
  textAlign: "center",
  fontSize: "0.9rem",
} as const;

/** "Server unavailable, retrying…" while the API answers 503 or cannot be reached; gone once /api/health is ok. */
export function ServerBanner() {
  const unavailable = useServerUnavailable();
  if (!unavailable) return null;
  return (
    <div role="status" aria-live="polite" className="fy-server-banner" style={BANNER_STYLE}>
      Server unavailable, retrying…
    </div>
  );
}
