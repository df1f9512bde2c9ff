// @vitest-environment jsdom
// The models page against a fake server: library files grouped by kind in order, search across name, hash and
// source, the empty state, warm models for admins, and the admin-only fetch form whose job is polled until done.
import { act, cleanup, fireEvent, render, screen, within } from "@testing-library/react";
import { createMemoryRouter, RouterProvider } from "react-router";
import { afterEach, describe, expect, it, vi } from "vitest";
import { setFetcher } from "../api/client";
import { SessionProvider } from "../app/session";
import samples from "./__fixtures__/models-samples.json";
import { POLL_MS, ModelsPage } from "./models-page";

interface Call {
  method: string;
  path: string;
  body: unknown;
}

type Route = (call: Call) => { status?: number; body: unknown } | undefined;

function fakeServer(options: { admin: boolean; models?: unknown; route?: Route }) {
  const calls: Call[] = [];
  setFetcher(async (input, init) => {
    const url = new URL(String(input), "http://test");
    const call = {
      method: init?.method ?? "GET",
      path: url.pathname,
      body: init?.body ? JSON.parse(String(init.body)) : undefined,
    };
    calls.push(call);
    const answer = options.route?.(call) ??
      {
        "/api/auth/me": { body: options.admin ? samples.me_admin : samples.me_member },
        "/api/models": { body: options.models ?? samples.models },
        "/api/workers": { body: options.admin ? samples.workers_admin : samples.workers_member },
      }[url.pathname] ?? { status: 404, body: { detail: "Not found." } };
    return new Response(JSON.stringify(answer.body), {
      status: answer.status ?? 200,
      headers: { "Content-Type": "application/json" },
    });
  });
  return calls;
}

function renderPage() {
  const router = createMemoryRouter([{ path: "/models", element: <ModelsPage /> }], { initialEntries: ["/models"] });
  render(
    <SessionProvider>
      <RouterProvider router={router} />
    </SessionProvider>,
  );
}

const kinds = () => screen.getAllByTestId(/^kind-/).map((el) => el.dataset.testid);

afterEach(() => {
  cleanup();
  vi.useRealTimers();
  setFetcher((...args) => fetch(...args));
});

describe("ModelsPage", () => {
  it("groups the library by kind, in the library's order, with size, short hash, source and workers", async () => {
    const calls = fakeServer({ admin: false });
    renderPage();
    await screen.findByTestId("kind-checkpoints");
    expect(kinds()).toEqual(["kind-checkpoints", "kind-vae", "kind-diffusers"]); // loras is empty: not shown
    const checkpoints = within(screen.getByTestId("kind-checkpoints"));
    const rows = checkpoints.getAllByTestId(/^model-file-/).map((el) => el.dataset.testid);
    expect(rows).toEqual(["model-file-dreamshaper_8.safetensors", "model-file-sd15/v1-5-pruned-emaonly.safetensors"]);
    const sd15 = within(screen.getByTestId("model-file-sd15/v1-5-pruned-emaonly.safetensors"));
    expect(sd15.getByText("6ce0161689b3")).toBeTruthy();
    expect(sd15.getByText("modelscope:AI-ModelScope/stable-diffusion-v1-5@v1.0.0")).toBeTruthy();
    expect(sd15.getByText("4.0 GB")).toBeTruthy();
    expect(sd15.getByText("celery@gpu-1:4021, celery@gpu-2:3988")).toBeTruthy();
    expect(within(screen.getByTestId("model-file-sdxl_vae.safetensors")).getByText("not hashed yet")).toBeTruthy();
    expect(within(screen.getByTestId("model-file-tiny-sd")).getByText("folder")).toBeTruthy();
    expect(
      within(screen.getByTestId("modelscope-models")).getByText("damo/cv_csrnet_image-color-enhance-models"),
    ).toBeTruthy();
    // not a site admin: no form, no job list, no warm models (the workers API gives members none)
    expect(screen.queryByRole("form", { name: "Fetch from ModelScope" })).toBeNull();
    expect(screen.queryByTestId("warm-models")).toBeNull();
    expect(calls.some((c) => c.path === "/api/models/fetches")).toBe(false);
  });

  it("searches names, hashes and sources, and says when nothing matches", async () => {
    fakeServer({ admin: false });
    renderPage();
    await screen.findByTestId("kind-checkpoints");
    const search = screen.getByLabelText("Search models");
    fireEvent.change(search, { target: { value: "DREAMSHAPER" } });
    expect(kinds()).toEqual(["kind-checkpoints"]);
    expect(screen.getAllByTestId(/^model-file-/)).toHaveLength(1);
    fireEvent.change(search, { target: { value: "modelscope:acme" } });
    expect(kinds()).toEqual(["kind-diffusers"]);
    fireEvent.change(search, { target: { value: "6ce016" } });
    expect(screen.getAllByTestId(/^model-file-/).map((el) => el.dataset.testid)).toEqual([
      "model-file-sd15/v1-5-pruned-emaonly.safetensors",
    ]);
    expect(screen.getByText("No ModelScope models matching “6ce016”.")).toBeTruthy();
    fireEvent.change(search, { target: { value: "nothing-like-this" } });
    expect(screen.getByText("No model files matching “nothing-like-this”.")).toBeTruthy();
  });

  it("explains where files go when no worker lists any", async () => {
    fakeServer({ admin: false, models: samples.models_empty });
    renderPage();
    const empty = await screen.findByTestId("library-empty");
    expect(empty.textContent).toContain("FLOWYARD_MODELS_DIR");
    expect(empty.textContent).toContain("extra_model_paths.yaml");
    expect(empty.textContent).toContain("docs/models.md, “Model library”");
  });

  it("tells how to install the models extra when a live worker lacks it, and says nothing when all have it", async () => {
    const withExtra = (name: string, alive: boolean, installed: boolean) => ({
      name,
      kind: "celery",
      status: alive ? "online" : "lost",
      alive,
      busy: false,
      queues: ["flowyard.cpu"],
      capabilities: { cpu_count: 2, models_extra: { installed, missing: installed ? [] : ["torch", "diffusers"] } },
    });
    const workers = [
      withExtra("embedded@web:1", true, false),
      withExtra("old@gone:2", false, false),
      withExtra("gpu@box:3", true, true),
    ];
    fakeServer({ admin: false, route: (c) => (c.path === "/api/workers" ? { body: workers } : undefined) });
    renderPage();
    const notice = await screen.findByTestId("models-extra-notice");
    expect(notice.textContent).toContain("Install the models extra");
    expect(notice.textContent).toContain("Worker embedded@web:1 cannot run diffusion nodes");
    expect(notice.textContent).not.toContain("old@gone:2"); // not alive: nothing it lacks matters now
    expect(notice.textContent).toContain("torch, diffusers are not installed there");
    expect(notice.textContent).toContain("make install-models");
    cleanup();
    const calls = fakeServer({
      admin: false,
      route: (c) => (c.path === "/api/workers" ? { body: [withExtra("gpu@box:3", true, true)] } : undefined),
    });
    renderPage();
    await screen.findByTestId("kind-checkpoints");
    await vi.waitFor(() => expect(calls.some((c) => c.path === "/api/workers")).toBe(true));
    await act(async () => {
      await new Promise((resolve) => setTimeout(resolve, 0)); // the workers' answer is rendered
    });
    expect(screen.queryByTestId("models-extra-notice")).toBeNull();
  });

  it("shows a retryable error when the listing fails", async () => {
    let fail = true;
    fakeServer({
      admin: false,
      route: (c) => (c.path === "/api/models" && fail ? { status: 500, body: { detail: "boom" } } : undefined),
    });
    renderPage();
    expect((await screen.findByRole("alert")).textContent).toContain("Could not load the models");
    fail = false;
    fireEvent.click(screen.getByRole("button", { name: "Try again" }));
    expect(await screen.findByTestId("kind-checkpoints")).toBeTruthy();
  });

  it("shows site admins the warm models per worker", async () => {
    fakeServer({ admin: true, route: (c) => (c.path === "/api/models/fetches" ? { body: [] } : undefined) });
    renderPage();
    const warm = await screen.findByTestId("warm-models");
    expect(warm.textContent).toContain("diffusion:sd15/v1-5-pruned-emaonly.safetensors · cuda:0 · 1.6 GB");
    expect(screen.getByText("No fetches yet.")).toBeTruthy();
  });

  it("shows the server's field errors under the admin's form fields", async () => {
    fakeServer({
      admin: true,
      route: (c) =>
        c.path === "/api/models/fetches"
          ? { body: [] }
          : c.path === "/api/models/fetch"
            ? { status: 400, body: samples.fetch_invalid }
            : undefined,
    });
    renderPage();
    const form = await screen.findByRole("form", { name: "Fetch from ModelScope" });
    fireEvent.change(within(form).getByLabelText(/Repo id/), { target: { value: "tiny" } });
    fireEvent.change(within(form).getByLabelText(/Revision/), { target: { value: " " } });
    fireEvent.submit(form);
    expect(await within(form).findByText("must be a ModelScope repo id like 'owner/name'")).toBeTruthy();
    expect(within(form).getByText("This field may not be blank.")).toBeTruthy();
    const repoLabel = within(form)
      .getByLabelText(/Repo id/)
      .closest("label");
    expect(repoLabel?.textContent).toContain("owner/name'");
  });

  it("queues a fetch, polls the job while it runs, then lists the library again", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    const jobs: unknown[][] = [[], [samples.fetch_queued], [samples.fetch_running], [samples.fetch_done]];
    let served = 0;
    const calls = fakeServer({
      admin: true,
      route: (c) => {
        if (c.path === "/api/models/fetch") return { status: 202, body: samples.fetch_queued };
        if (c.path === "/api/models/fetches") return { body: jobs[Math.min(served++, jobs.length - 1)] };
        return undefined;
      },
    });
    renderPage();
    const form = await screen.findByRole("form", { name: "Fetch from ModelScope" });
    await screen.findByText("No fetches yet.");
    fireEvent.change(within(form).getByLabelText(/Repo id/), { target: { value: "acme/tiny" } });
    fireEvent.change(within(form).getByLabelText(/File in the repo/), { target: { value: "unet/tiny.safetensors" } });
    fireEvent.change(within(form).getByLabelText(/Kind/), { target: { value: "diffusion_models" } });
    fireEvent.change(within(form).getByLabelText(/Revision/), { target: { value: "v1" } });
    fireEvent.submit(form);
    expect(within(await screen.findByTestId("fetch-7")).getByText("queued")).toBeTruthy();
    expect(calls.find((c) => c.method === "POST")?.body).toEqual({
      repo_id: "acme/tiny",
      file: "unet/tiny.safetensors",
      kind: "diffusion_models",
      revision: "v1",
      local_files_only: false,
      overwrite: false,
    });
    const listings = () => calls.filter((c) => c.path === "/api/models").length;
    expect(listings()).toBe(1);

    await act(() => vi.advanceTimersByTimeAsync(POLL_MS));
    expect(within(await screen.findByTestId("fetch-7")).getByText("running")).toBeTruthy();
    await act(() => vi.advanceTimersByTimeAsync(POLL_MS));
    const done = await screen.findByText("done");
    expect(within(done.closest("tr") as HTMLElement).getByText("a3f5c2b1d4e6")).toBeTruthy();
    expect(listings()).toBe(2); // the job ended: the library is listed again

    const polls = served;
    await act(() => vi.advanceTimersByTimeAsync(POLL_MS * 3));
    expect(served).toBe(polls); // nothing left running: polling stopped
  });
});
