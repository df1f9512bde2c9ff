// The typed fetch client: same-origin cookies, CSRF header on unsafe methods, errors as ApiError.
import type { z } from "zod";
import { reportServerUnavailable } from "../app/server-status";
import { apiErrorBodySchema, type ApiErrorItem } from "./schemas";

const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** A failed request: HTTP status, the server's `detail` and its per-field / per-node `errors`. */
export class ApiError extends Error {
  readonly status: number;
  readonly detail: string;
  readonly errors: ApiErrorItem[];

  constructor(status: number, detail: string, errors: ApiErrorItem[] = []) {
    super(detail);
    this.name = "ApiError";
    this.status = status;
    this.detail = detail;
    this.errors = errors;
  }

  /** Messages for one form field (or `non_field_errors` when `field` is omitted and none are tied). */
  fieldErrors(field: string): string[] {
    return this.errors.filter((e) => e.field === field).map((e) => e.message);
  }

  /** Messages tied to one graph node (and optionally one of its inputs). */
  nodeErrors(node: string, input?: string): string[] {
    return this.errors
      .filter((e) => e.node === node && (input === undefined || e.input === input))
      .map((e) => e.message);
  }

  get isAuthError(): boolean {
    return this.status === 401 || this.status === 403;
  }
}

export function readCookie(
  name: string,
  cookie: string = typeof document === "undefined" ? "" : document.cookie,
): string | null {
  for (const part of cookie.split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return decodeURIComponent(rest.join("="));
  }
  return null;
}

function statusText(status: number): string {
  if (status === 401 || status === 403) return "You are not signed in, or not allowed to do this.";
  if (status === 404) return "Not found (the server may not provide this yet).";
  if (status >= 500) return `The server failed (HTTP ${status}). Try again in a moment.`;
  return `Request failed (HTTP ${status}).`;
}

/** Turn a failed response's body into an ApiError (tolerates non-JSON bodies and DRF's field dicts). */
export async function toApiError(response: Response): Promise<ApiError> {
  let body: unknown = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  const parsed = apiErrorBodySchema.safeParse(body);
  if (parsed.success && (parsed.data.detail || parsed.data.errors)) {
    const errors = parsed.data.errors ?? [];
    const detail = parsed.data.detail ?? errors[0]?.message ?? statusText(response.status);
    return new ApiError(response.status, detail, errors);
  }
  // DRF's default validation shape: {"field": ["message", ...]}
  if (body && typeof body === "object" && !Array.isArray(body)) {
    const errors: ApiErrorItem[] = [];
    for (const [field, value] of Object.entries(body as Record<string, unknown>)) {
      const messages = Array.isArray(value) ? value : [value];
      for (const message of messages) if (typeof message === "string") errors.push({ field, message });
    }
    if (errors.length) return new ApiError(response.status, errors[0]!.message, errors);
  }
  return new ApiError(response.status, statusText(response.status));
}

export interface RequestOptions {
  method?: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  body?: unknown;
  query?: Record<string, string | number | boolean | undefined>;
  signal?: AbortSignal;
}

export type Fetcher = typeof fetch;
let fetcher: Fetcher = (...args) => fetch(...args);
/** Tests swap the transport. */
export function setFetcher(f: Fetcher): void {
  fetcher = f;
}

/** Call the API and validate the answer with `schema`; 204 answers give `undefined` (use z.undefined()). */
export async function apiRequest<S extends z.ZodType>(
  path: string,
  schema: S,
  options: RequestOptions = {},
): Promise<z.infer<S>> {
  const method = options.method ?? "GET";
  const headers: Record<string, string> = { Accept: "application/json" };
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  if (UNSAFE.has(method)) {
    const token = readCookie("csrftoken");
    if (token) headers["X-CSRFToken"] = token;
  }
  let url = path;
  if (options.query) {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(options.query)) if (v !== undefined) params.set(k, String(v));
    const qs = params.toString();
    if (qs) url += (url.includes("?") ? "&" : "?") + qs;
  }
  let response: Response;
  try {
    response = await fetcher(url, {
      method,
      headers,
      credentials: "same-origin",
      body: options.body === undefined ? null : JSON.stringify(options.body),
      signal: options.signal ?? null,
    });
  } catch (exc) {
    if (exc instanceof DOMException && exc.name === "AbortError") throw exc;
    reportServerUnavailable();
    throw new ApiError(0, "Cannot reach the server. Check your connection.");
  }
  if (response.status === 503) reportServerUnavailable();
  if (!response.ok) throw await toApiError(response);
  const data: unknown = response.status === 204 ? undefined : await response.json().catch(() => undefined);
  const parsed = schema.safeParse(data);
  if (!parsed.success) {
    throw new ApiError(
      response.status,
      `The server answered ${path} in an unexpected shape: ${parsed.error.issues[0]?.message ?? "invalid"}`,
    );
  }
  return parsed.data;
}

export function errorMessage(exc: unknown): string {
  if (exc instanceof ApiError) return exc.detail;
  if (exc instanceof Error) return exc.message;
  return String(exc);
}
