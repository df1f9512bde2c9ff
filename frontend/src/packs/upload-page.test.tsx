// @vitest-environment jsdom
// The upload page against a fake server answering with recorded payloads: a 202 (still validating) is followed
// through GET /api/packs/versions/<id> until the version settles, then no more checks are made; a failed check
// says so and stops.
import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { createMemoryRouter, RouterProvider } from "react-router";
import { afterEach, describe, expect, it, vi } from "vitest";
import { setFetcher } from "../api/client";
import { SessionProvider } from "../app/session";
import samples from "./__fixtures__/backend-samples.json";
import { UploadPage } from "./upload-page";

const VERSION = samples.version_full;
const VALIDATING = { ...VERSION, validated: false, status: "pending" };

/** The server: the upload answers 202 validating; the version's answers are taken in turn (the last repeats). */
function fakeServer(versionAnswers: { status: number; body: unknown }[]) {
  const checks: string[] = [];
  const fake = async (input: RequestInfo | URL) => {
    const url = new URL(String(input), "http://test");
    const answer = (status: number, body: unknown) =>
      new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
    if (url.pathname === "/api/auth/me") return answer(200, samples.me_admin);
    if (url.pathname === "/api/packs/upload")
      return answer(202, { status: "validating", message: "Validating.", version: VALIDATING });
    if (url.pathname === `/api/packs/versions/${VERSION.id}`) {
      const next = versionAnswers[Math.min(checks.length, versionAnswers.length - 1)]!;
      checks.push(url.pathname);
      return answer(next.status, next.body);
    }
    return answer(404, { detail: "Not found." });
  };
  setFetcher(fake);
  vi.stubGlobal("fetch", fake);
  return checks;
}

async function upload() {
  const router = createMemoryRouter([{ path: "/packs/upload", element: <UploadPage /> }], {
    initialEntries: ["/packs/upload"],
  });
  render(
    <SessionProvider>
      <RouterProvider router={router} />
    </SessionProvider>,
  );
  const input = await screen.findByLabelText("Archive");
  fireEvent.change(input, { target: { files: [new File(["zip"], "vignette.flowyard.zip")] } });
  fireEvent.submit(screen.getByRole("form", { name: "Upload pack" }));
}

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  setFetcher((...args) => fetch(...args));
});

describe("UploadPage", () => {
  it("follows a 202 until the version is validated, then stops checking", async () => {
    const checks = fakeServer([
      { status: 200, body: VALIDATING },
      { status: 200, body: VERSION },
    ]);
    await upload();
    expect(await screen.findByText("Validating…")).toBeTruthy();
    expect(
      await screen.findByText("Published: this version is active and can be installed", {}, { timeout: 4000 }),
    ).toBeTruthy();
    const settled = checks.length;
    expect(settled).toBe(2);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(checks.length).toBe(settled);
  });

  it("says a failed check failed, keeps the last verdict and stops", async () => {
    const checks = fakeServer([{ status: 500, body: { detail: "Server error." } }]);
    await upload();
    expect((await screen.findByRole("alert")).textContent).toMatch(/^Could not check the verdict: .*Reload/);
    expect(screen.getByText("Validating…")).toBeTruthy();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(checks.length).toBe(1);
  });
});
