// Sign-in and sign-up forms calling /api/auth/login and /api/auth/signup.
import { useState, type FormEvent } from "react";
import { Link, useNavigate, useSearchParams } from "react-router";
import { ApiError, errorMessage } from "../api/client";
import { auth } from "../api/endpoints";
import { useSession } from "../app/session";

function useAuthForm(submit: (form: FormData) => Promise<void>) {
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const onSubmit = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    submit(new FormData(e.currentTarget))
      .catch(setError)
      .finally(() => setBusy(false));
  };
  const fieldError = (name: string) =>
    error instanceof ApiError && error.fieldErrors(name).length ? (
      <span className="fy-field-error">{error.fieldErrors(name).join(" ")}</span>
    ) : null;
  return { error, busy, onSubmit, fieldError };
}

export function LoginPage() {
  const { setUser } = useSession();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const next = params.get("next") ?? "/";
  const { error, busy, onSubmit, fieldError } = useAuthForm(async (form) => {
    const user = await auth.login(String(form.get("username") ?? ""), String(form.get("password") ?? ""));
    setUser(user);
    navigate(next.startsWith("/") ? next : "/");
  });
  return (
    <form className="fy-form" onSubmit={onSubmit} aria-label="Sign in">
      <h1>Sign in</h1>
      <label>
        Username
        <input name="username" autoComplete="username" required autoFocus />
        {fieldError("username")}
      </label>
      <label>
        Password
        <input name="password" type="password" autoComplete="current-password" required />
        {fieldError("password")}
      </label>
      {error != null && (
        <p className="fy-form-error" role="alert">
          {errorMessage(error)}
        </p>
      )}
      <button type="submit" disabled={busy}>
        {busy ? "Signing in…" : "Sign in"}
      </button>
      <p>
        No account yet? <Link to="/signup">Create one</Link>
      </p>
    </form>
  );
}

export function SignupPage() {
  const { setUser } = useSession();
  const navigate = useNavigate();
  const { error, busy, onSubmit, fieldError } = useAuthForm(async (form) => {
    const email = String(form.get("email") ?? "").trim();
    const username = String(form.get("username") ?? "");
    const password = String(form.get("password") ?? "");
    await auth.signup(username, password, email || undefined);
    // Sign-up does not say whether the name was free; signing in with the new credentials does.
    const user = await auth.login(username, password).catch((e: unknown) => {
      if (e instanceof ApiError && e.status === 400) {
        throw new ApiError(
          400,
          "Could not sign in to the new account: this username may already be taken. Choose another one.",
        );
      }
      throw e;
    });
    setUser(user);
    navigate("/");
  });
  return (
    <form className="fy-form" onSubmit={onSubmit} aria-label="Create account">
      <h1>Create an account</h1>
      <label>
        Username
        <input name="username" autoComplete="username" required autoFocus />
        {fieldError("username")}
      </label>
      <label>
        Email (optional)
        <input name="email" type="email" autoComplete="email" />
        {fieldError("email")}
      </label>
      <label>
        Password
        <input name="password" type="password" autoComplete="new-password" required />
        {fieldError("password")}
      </label>
      {error != null && (
        <p className="fy-form-error" role="alert">
          {errorMessage(error)}
        </p>
      )}
      <button type="submit" disabled={busy}>
        {busy ? "Creating…" : "Create account"}
      </button>
      <p>
        Already have an account? <Link to="/login">Sign in</Link>
      </p>
    </form>
  );
}
