// @vitest-environment jsdom
// The app view against a fake server: the form generated from the exposed inputs (slider, prompt, random seed,
// model picker, image upload), Run posting the inputs, a refused input's message under its field, progress
// polled until the output shows in the gallery, and the run history.
import { cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { createMemoryRouter, RouterProvider } from "react-router";
import { afterEach, describe, expect, it, vi } from "vitest";
import { setFetcher } from "../api/client";
import { AppPage } from "./app-page";

interface Call {
  method: string;
  path: string;
  body: unknown;
}

const APP = {
  slug: "square",
  title: "Square maker",
  description: "Makes squares",
  workspace: 1,
  workflow: 7,
  version: 2,
  visibility: "workspace",
  public_rate_limit: 10,
  enabled: true,
  created_by: { id: 1, username: "alice" },
  created: "2026-12-07T10:00:00Z",
  updated: "2026-12-07T10:00:00Z",
  can_edit: false,
  can_run: true,
  can_open_graph: false,
  inputs: [
    { name: "width", kind: "integer", label: "Width", help: "Pixels", min: 1, max: 64, step: 1, default: 8 },
    { name: "prompt", kind: "prompt", label: "Prompt", help: "", default: "a cat" },
    { name: "seed", kind: "seed", label: "Seed", help: "", min: 0, max: 100, default: 3 },
    { name: "ckpt", kind: "model", label: "Model", help: "", default: "a.safetensors", options: ["a.safetensors"] },
    { name: "photo", kind: "image", label: "Photo", help: "" },
  ],
  outputs: [{ name: "image", node: "2", label: "Result" }],
};

function run(status: string, outputs: Record<string, unknown[]> = {}) {
  return {
    id: "11111111-2222-3333-4444-555555555555",
    app: "square",
    status,
    created: "2026-12-07T10:00:01Z",
    finished: status === "succeeded" ? "2026-12-07T10:00:02Z" : null,
    error: "",
    progress: { total: 2, finished: status === "succeeded" ? 2 : 1 },
    inputs: { width: 12 },
    outputs,
    via: "member",
  };
}

function fakeServer() {
  const calls: Call[] = [];
  let polls = 0;
  const fake = async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(String(input), "http://test");
    const method = init?.method ?? "GET";
    const body = init?.body && typeof init.body === "string" ? JSON.parse(init.body) : init?.body;
    calls.push({ method, path: url.pathname, body });
    let answer: { status?: number; body: unknown };
    if (url.pathname === "/api/apps/square") answer = { body: APP };
    else if (url.pathname === "/api/apps/square/uploads")
      answer = { status: 201, body: { id: 42, name: "p.png", kind: "image" } };
    else if (url.pathname === "/api/apps/square/runs" && method === "POST") {
      const width = (body as { width: number }).width;
      answer =
        width > 64
          ? {
              status: 400,
              body: {
                detail: `Input 'width': ${width} is above the maximum 64.`,
                errors: [{ field: "width", message: `${width} is above the maximum 64.` }],
              },
            }
          : { status: 201, body: run("running") };
    } else if (url.pathname === "/api/apps/square/runs") answer = { body: polls ? [run("succeeded")] : [] };
    else if (url.pathname.startsWith("/api/apps/square/runs/")) {
      polls += 1;
      answer = {
        body: run("succeeded", {
          image: [{ id: 5, kind: "image", node: "2", url: "/api/apps/square/outputs/tok", filename: "a.png" }],
        }),
      };
    } else if (url.pathname === "/api/models") answer = { body: { results: [], files: {} } };
    else answer = { status: 404, body: { detail: "Not found." } };
    return new Response(JSON.stringify(answer.body), {
      status: answer.status ?? 200,
      headers: { "Content-Type": "application/json" },
    });
  };
  setFetcher(fake);
  vi.stubGlobal("fetch", fake); // the multipart upload calls fetch itself
  return calls;
}

function renderPage() {
  const router = createMemoryRouter([{ path: "/apps/:slug", element: <AppPage /> }], {
    initialEntries: ["/apps/square"],
  });
  render(<RouterProvider router={router} />);
}

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  setFetcher((...args) => fetch(...args));
});

describe("AppPage", () => {
  it("builds the form from the exposed inputs and runs it, showing the output", async () => {
    const calls = fakeServer();
    renderPage();
    expect(await screen.findByRole("heading", { name: "Square maker" })).toBeTruthy();
    expect(screen.queryByRole("link", { name: /Open workflow/ })).toBeNull();
    const width = screen.getByRole("spinbutton", { name: "Width" });
    expect(screen.getByRole("slider", { name: "Width slider" })).toBeTruthy();
    expect((screen.getByLabelText("Prompt") as HTMLTextAreaElement).value).toBe("a cat");
    expect((screen.getByRole("checkbox", { name: "Random seed" }) as HTMLInputElement).checked).toBe(true);
    expect((screen.getByLabelText("Model") as HTMLSelectElement).value).toBe("a.safetensors");

    // An image: uploaded through the app, its id sent as the input.
    const file = new File([new Uint8Array([137, 80, 78, 71])], "p.png", { type: "image/png" });
    globalThis.URL.createObjectURL ??= () => "blob:preview";
    globalThis.URL.revokeObjectURL ??= () => undefined;
    fireEvent.change(screen.getByLabelText("Photo"), { target: { files: [file] } });
    await screen.findByText(/Uploaded: p.png/);

    // Refused: the server's message shows under the input it names.
    fireEvent.change(width, { target: { value: "99" } });
    fireEvent.click(screen.getByRole("button", { name: "Run" }));
    const field = (await screen.findByText("99 is above the maximum 64.")).closest("[data-input]") as HTMLElement;
    expect(field.dataset.input).toBe("width");

    fireEvent.change(width, { target: { value: "12" } });
    fireEvent.click(screen.getByRole("button", { name: "Run" }));
    const result = await screen.findByRole("figure", { name: "Output Result" }, { timeout: 3000 });
    expect(within(result).getByRole("img").getAttribute("src")).toBe("/api/apps/square/outputs/tok");
    const posted = calls.filter((c) => c.method === "POST" && c.path === "/api/apps/square/runs").map((c) => c.body);
    expect(posted.at(-1)).toEqual({ width: 12, prompt: "a cat", seed: "random", ckpt: "a.safetensors", photo: 42 });
    await waitFor(() => expect(screen.getByRole("region", { name: "Run history" }).textContent).toContain("succeeded"));
  });
});

describe("AppPage approvals", () => {
  function serve(canOpenGraph: boolean) {
    const paused = { ...run("awaiting_approval"), id: "0b9c6f1e-7a51-4c1f-9d83-5d1c4a0a2f10" };
    const gate = {
      id: 7,
      run: paused.id,
      run_status: "awaiting_approval",
      workspace: 1,
      workflow: 7,
      workflow_name: "Square",
      node: "gate",
      message: "Is the square right?",
      approvers: { role: "editor", users: [], text: "editor or higher" },
      requested: "2026-12-07T12:00:00Z",
      deadline: null,
      on_timeout: "reject",
      pending: true,
      can_decide: true,
      decision: "",
      decided_by: null,
      decided_at: null,
      comment: "",
      timed_out: false,
      outputs: [],
    };
    const fake = async (input: RequestInfo | URL) => {
      const path = new URL(String(input), "http://test").pathname;
      const body =
        path === "/api/apps/square"
          ? { ...APP, can_open_graph: canOpenGraph }
          : path === "/api/apps/square/runs"
            ? [paused]
            : path.startsWith("/api/apps/square/runs/")
              ? paused
              : path === `/api/runs/${paused.id}/approvals`
                ? [gate]
                : path === "/api/models"
                  ? { results: [], files: {} }
                  : null;
      return new Response(JSON.stringify(body ?? { detail: "Not found." }), {
        status: body ? 200 : 404,
        headers: { "Content-Type": "application/json" },
      });
    };
    setFetcher(fake);
    vi.stubGlobal("fetch", fake);
  }

  it("shows a paused run's approval to a caller who may read the workflow's runs", async () => {
    serve(true);
    renderPage();
    const history = await screen.findByRole("region", { name: "Run history" });
    await waitFor(() => expect(history.textContent).toContain("awaiting_approval"));
    fireEvent.click(within(history).getAllByRole("button")[0] as HTMLElement);
    const panel = await screen.findByRole("region", { name: "Approvals" });
    expect(panel.textContent).toContain("Is the square right?");
  });

  it("leaves the approval out for a runner who cannot read the run", async () => {
    serve(false);
    renderPage();
    const history = await screen.findByRole("region", { name: "Run history" });
    await waitFor(() => expect(history.textContent).toContain("awaiting_approval"));
    fireEvent.click(within(history).getAllByRole("button")[0] as HTMLElement);
    await screen.findByText("awaiting_approval", { selector: ".fy-app-run .fy-run-pill" });
    expect(screen.queryByRole("region", { name: "Approvals" })).toBeNull();
  });
});
