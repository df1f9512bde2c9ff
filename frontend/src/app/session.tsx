// Who is signed in: loaded once from /api/auth/me and shared through context.
import { createContext, useCallback, useContext, useEffect, useState, type ReactNode } from "react";
import { ApiError } from "../api/client";
import { auth } from "../api/endpoints";
import type { User } from "../api/schemas";

export type SessionState =
  | { status: "loading" }
  | { status: "anonymous" }
  | { status: "signed-in"; user: User }
  | { status: "error"; message: string };

interface SessionValue {
  session: SessionState;
  setUser(user: User | null): void;
  refresh(): void;
}

const SessionContext = createContext<SessionValue | null>(null);

export function SessionProvider({ children }: { children: ReactNode }) {
  const [session, setSession] = useState<SessionState>({ status: "loading" });
  const refresh = useCallback(() => {
    auth.me().then(
      (user) => setSession({ status: "signed-in", user }),
      (exc: unknown) => {
        if (exc instanceof ApiError && exc.isAuthError) setSession({ status: "anonymous" });
        else setSession({ status: "error", message: exc instanceof ApiError ? exc.detail : String(exc) });
      },
    );
  }, []);
  useEffect(refresh, [refresh]);
  const setUser = useCallback(
    (user: User | null) => setSession(user ? { status: "signed-in", user } : { status: "anonymous" }),
    [],
  );
  return <SessionContext.Provider value={{ session, setUser, refresh }}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionValue {
  const value = useContext(SessionContext);
  if (!value) throw new Error("useSession must be used inside <SessionProvider>");
  return value;
}
