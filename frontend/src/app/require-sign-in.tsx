// Pages that need a signed-in user: show loading, send anonymous visitors to /login?next=<here>.
import type { ReactNode } from "react";
import { Navigate, useLocation } from "react-router";
import type { User } from "../api/schemas";
import { useSession } from "./session";
import { ErrorState, Loading } from "./status-views";

export function RequireSignIn({ children }: { children: (user: User) => ReactNode }) {
  const { session, refresh } = useSession();
  const location = useLocation();
  if (session.status === "loading") return <Loading what="your account" />;
  if (session.status === "anonymous") {
    const next = encodeURIComponent(location.pathname + location.search);
    return <Navigate to={`/login?next=${next}`} replace />;
  }
  if (session.status === "error") {
    return <ErrorState title="Could not check who is signed in" error={new Error(session.message)} onRetry={refresh} />;
  }
  return <>{children(session.user)}</>;
}

/** Copy text, falling back to selecting it for browsers without clipboard access. */
export async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false;
  }
}
