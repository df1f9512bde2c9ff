import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { ApiError, apiRequest, readCookie, setFetcher } from "./client";
import { userResponseSchema, workflowDetailSchema, documentOf } from "./schemas";

function respond(status: number, body: unknown) {
  const calls: { url: string; init: RequestInit }[] = [];
  setFetcher(async (url, init) => {
    calls.push({ url: String(url), init: init ?? {} });
    return new Response(body === undefined ? null : JSON.stringify(body), {
      status,
      headers: { "Content-Type": "application/json" },
    });
  });
  return calls;
}

afterEach(() => setFetcher((...args) => fetch(...args)));

describe("api client", () => {
  it("reads cookies", () => {
    expect(readCookie("csrftoken", "a=1; csrftoken=abc%3D; b=2")).toBe("abc=");
    expect(readCookie("missing", "a=1")).toBeNull();
  });

  it("sends JSON with same-origin credentials and the query string", async () => {
    const calls = respond(200, { ok: true });
    await apiRequest("/api/x", z.object({ ok: z.boolean() }), {
      method: "POST",
      body: { a: 1 },
      query: { q: "hi", n: undefined },
    });
    expect(calls[0]!.url).toBe("/api/x?q=hi");
    expect(calls[0]!.init.credentials).toBe("same-origin");
    expect(calls[0]!.init.body).toBe('{"a":1}');
  });

  it("parses the error contract into ApiError with field and node errors", async () => {
    respond(400, {
      detail: "Invalid graph",
      errors: [
        { node: "3", input: "image", message: "needs a link" },
        { field: "name", message: "required" },
      ],
    });
    const error = await apiRequest("/api/x", z.unknown()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    const api = error as ApiError;
    expect(api.status).toBe(400);
    expect(api.detail).toBe("Invalid graph");
    expect(api.nodeErrors("3", "image")).toEqual(["needs a link"]);
    expect(api.fieldErrors("name")).toEqual(["required"]);
  });

  it("turns DRF field dicts and empty bodies into readable errors", async () => {
    respond(400, { username: ["already taken"] });
    const drf = (await apiRequest("/api/x", z.unknown()).catch((e: unknown) => e)) as ApiError;
    expect(drf.fieldErrors("username")).toEqual(["already taken"]);
    respond(404, undefined);
    const missing = (await apiRequest("/api/x", z.unknown()).catch((e: unknown) => e)) as ApiError;
    expect(missing.detail).toMatch(/Not found/);
  });

  it("reports an answer of the wrong shape", async () => {
    respond(200, { nope: 1 });
    await expect(apiRequest("/api/x", z.object({ id: z.number() }))).rejects.toThrow(/unexpected shape/);
  });

  it("accepts the user object bare or wrapped in {user}", () => {
    const user = {
      id: 1,
      username: "ada",
      email: "",
      is_site_admin: false,
      personal_workspace: { id: 2, slug: "ada" },
    };
    expect(userResponseSchema.parse(user).username).toBe("ada");
    expect(userResponseSchema.parse({ user }).username).toBe("ada");
  });

  it("finds the latest document in a workflow detail", () => {
    const detail = workflowDetailSchema.parse({
      id: 5,
      name: "w",
      description: "",
      workspace: 2,
      visibility: "private",
      is_template: false,
      latest_version: 1,
      updated: "2026-01-01T00:00:00Z",
      forked_from: { workflow: 1, version: 2 },
      role: "owner",
      version: {
        number: 1,
        message: "",
        author: { id: 1, username: "ada" },
        created: "x",
        content_hash: "h",
        packs: [],
        graph: { nodes: { "1": { type: "A", inputs: {} } } },
        layout: { nodes: { "1": { x: 1, y: 2 } }, groups: [] },
      },
    });
    expect(documentOf(detail)?.graph.nodes["1"]?.type).toBe("A");
    expect(documentOf(detail)?.layout?.nodes["1"]).toEqual({ x: 1, y: 2 });
  });
});

describe("node catalog schema", () => {
  it("parses the core pack's real GET /api/nodes answer", async () => {
    const { nodeCatalogSchema } = await import("./schemas");
    const raw = (await import("./__fixtures__/core-catalog.json")).default as unknown;
    const parsed = nodeCatalogSchema.safeParse(raw);
    expect(parsed.success ? "ok" : JSON.stringify(parsed.error.issues.slice(0, 3))).toBe("ok");
    expect(parsed.data!.nodes.length).toBeGreaterThan(10);
  });
});
