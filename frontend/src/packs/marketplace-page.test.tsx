// @vitest-environment jsdom
// The marketplace page against a fake server answering with recorded payloads: filters come from the URL and go
// to the API; an empty search explains itself; a rejected upload's verdict shows every error.
import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { createMemoryRouter, RouterProvider } from "react-router";
import { afterEach, describe, expect, it } from "vitest";
import { setFetcher } from "../api/client";
import { SessionProvider } from "../app/session";
import samples from "./__fixtures__/backend-samples.json";
import { MarketplacePage } from "./marketplace-page";
import { uploadVerdictSchema } from "./pack-schemas";
import { VerdictPanel } from "./pack-widgets";
import { verdictFromUpload } from "./verdict";

function fakeServer(packs: (url: URL) => unknown) {
  const calls: string[] = [];
  setFetcher(async (input) => {
    const url = new URL(String(input), "http://test");
    calls.push(url.pathname + url.search);
    const body = url.pathname === "/api/auth/me" ? samples.me_admin : url.pathname === "/api/packs" ? packs(url) : null;
    return new Response(JSON.stringify(body), {
      status: body === null ? 404 : 200,
      headers: { "Content-Type": "application/json" },
    });
  });
  return calls;
}

function renderAt(path: string) {
  const router = createMemoryRouter([{ path: "/packs", element: <MarketplacePage /> }], { initialEntries: [path] });
  render(
    <SessionProvider>
      <RouterProvider router={router} />
    </SessionProvider>,
  );
  return router;
}

afterEach(() => {
  cleanup();
  setFetcher((...args) => fetch(...args));
});

describe("MarketplacePage", () => {
  it("sends the URL's filters to the API and shows the cards", async () => {
    const calls = fakeServer(() => samples.pack_list);
    renderAt("/packs?category=utils&publisher=alice");
    expect(await screen.findByTestId("pack-vignette")).toBeTruthy();
    expect(calls).toContain("/api/packs?category=utils&publisher=alice");
    expect(screen.getByText(/1 pack in category utils, by alice/)).toBeTruthy();
    expect((screen.getByLabelText("Category") as HTMLSelectElement).value).toBe("utils");
  });

  it("puts a search into the URL and explains an empty result", async () => {
    const calls = fakeServer((url) => (url.searchParams.get("q") ? [] : samples.pack_list));
    const router = renderAt("/packs");
    await screen.findByTestId("pack-vignette");
    fireEvent.change(screen.getByLabelText("Search"), { target: { value: "nothing" } });
    fireEvent.submit(screen.getByRole("search"));
    expect(await screen.findByText("No packs matching “nothing”")).toBeTruthy();
    expect(router.state.location.search).toBe("?q=nothing");
    expect(calls).toContain("/api/packs?q=nothing");
  });
});

describe("VerdictPanel", () => {
  it("renders a rejected upload with each error's place", () => {
    const verdict = verdictFromUpload({
      httpStatus: 422,
      verdict: uploadVerdictSchema.parse(samples.upload_rejected.body),
    });
    render(<VerdictPanel verdict={verdict} />);
    expect(screen.getByRole("alert").textContent).toContain("Rejected");
    expect(screen.getByText("../../etc/cron.d/evil")).toBeTruthy();
    expect(screen.getByText("1 error")).toBeTruthy();
  });
});
