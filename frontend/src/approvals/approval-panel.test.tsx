// @vitest-environment jsdom
// The run page's approval panel against a fake server: an approver sees what to review and decides it (the POST
// carries the decision and comment), a member who is not an approver sees no buttons, a refused decision shows
// the server's reason; the top bar counts what waits for the user.
import { act, cleanup, fireEvent, render, screen } from "@testing-library/react";
import { createMemoryRouter, RouterProvider } from "react-router";
import { afterEach, describe, expect, it } from "vitest";
import { setFetcher } from "../api/client";
import { ApprovalPanel } from "./approval-panel";
import type { Approval } from "./approvals-api";
import { ApprovalsNavLink } from "./pending-approvals";

const RUN = "0b9c6f1e-7a51-4c1f-9d83-5d1c4a0a2f10";

function approval(overrides: Partial<Approval> = {}): Approval {
  return {
    id: 7,
    run: RUN,
    run_status: "awaiting_approval",
    workspace: 2,
    workflow: 3,
    workflow_name: "Poster",
    node: "gate",
    message: "Is the poster right?",
    approvers: { role: "editor", users: [], text: "editor or higher" },
    requested: "2026-12-07T12:00:00Z",
    deadline: "2026-12-08T12:00:00Z",
    on_timeout: "reject",
    pending: true,
    can_decide: true,
    decision: "",
    decided_by: null,
    decided_at: null,
    comment: "",
    timed_out: false,
    outputs: [
      { id: 11, node: "gate", kind: "text", index: 0, saved: false, text: "value 41" },
      {
        id: 12,
        node: "gate",
        kind: "image",
        index: 0,
        saved: false,
        url: `/api/runs/${RUN}/outputs/12`,
        filename: "flowyard_00001.png",
        content_type: "image/png",
        size: 100,
      },
    ],
    ...overrides,
  };
}

interface Call {
  method: string;
  path: string;
  body: unknown;
}

function fakeServer(routes: Record<string, (call: Call) => { status?: number; body: unknown }>): Call[] {
  const calls: Call[] = [];
  setFetcher(async (input, init) => {
    const url = new URL(String(input), "http://test");
    const call = {
      method: init?.method ?? "GET",
      path: url.pathname + url.search,
      body: init?.body ? JSON.parse(String(init.body)) : undefined,
    };
    calls.push(call);
    const answer = routes[`${call.method} ${call.path}`]?.(call) ?? { status: 404, body: { detail: "Not found." } };
    return new Response(JSON.stringify(answer.body), {
      status: answer.status ?? 200,
      headers: { "Content-Type": "application/json" },
    });
  });
  return calls;
}

function renderIn(element: React.ReactElement) {
  const router = createMemoryRouter([{ path: "*", element }], { initialEntries: ["/"] });
  render(<RouterProvider router={router} />);
}

afterEach(() => {
  cleanup();
  setFetcher((...args) => fetch(...args));
});

describe("ApprovalPanel", () => {
  it("shows an approver what to review and posts the approval with the comment", async () => {
    const calls = fakeServer({
      [`GET /api/runs/${RUN}/approvals`]: () => ({ body: [approval()] }),
      [`POST /api/runs/${RUN}/approvals/7`]: (call) => ({
        body: approval({
          pending: false,
          can_decide: false,
          run_status: "queued",
          decision: "approve",
          decided_by: "eddie",
          decided_at: "2026-12-07T12:05:00Z",
          comment: (call.body as { comment: string }).comment,
        }),
      }),
      "GET /api/approvals?pending=1": () => ({ body: { count: 0, results: [] } }),
    });
    renderIn(<ApprovalPanel runId={RUN} status="awaiting_approval" lastSeq={9} />);
    expect(await screen.findByText("Is the poster right?")).toBeTruthy();
    expect(screen.getByText("value 41")).toBeTruthy();
    expect(document.querySelector("img")!.getAttribute("src")).toBe(`/api/runs/${RUN}/outputs/12`);
    expect(screen.getByText(/editor or higher/)).toBeTruthy();
    fireEvent.change(screen.getByLabelText("Comment"), { target: { value: "ship it" } });
    await act(async () => {
      fireEvent.click(screen.getByRole("button", { name: "Approve" }));
    });
    const post = calls.find((c) => c.method === "POST")!;
    expect(post.path).toBe(`/api/runs/${RUN}/approvals/7`);
    expect(post.body).toEqual({ decision: "approve", comment: "ship it" });
    expect((await screen.findByTestId("approval-decision")).textContent).toMatch(/^Approved by eddie on .*: ship it$/);
    expect(screen.queryByRole("button", { name: "Approve" })).toBeNull();
  });

  it("shows a member who is not an approver no buttons", async () => {
    fakeServer({
      [`GET /api/runs/${RUN}/approvals`]: () => ({
        body: [approval({ can_decide: false, approvers: { role: "", users: ["rita"], text: "rita" } })],
      }),
    });
    renderIn(<ApprovalPanel runId={RUN} status="awaiting_approval" lastSeq={9} />);
    expect((await screen.findByTestId("approval-decision")).textContent).toContain("not one of its approvers");
    expect(screen.queryByRole("button", { name: "Reject" })).toBeNull();
    expect(screen.getByText(/Approvers: rita/)).toBeTruthy();
  });

  it("posts a rejection and shows why the server refused it", async () => {
    const calls = fakeServer({
      [`GET /api/runs/${RUN}/approvals`]: () => ({ body: [approval()] }),
      [`POST /api/runs/${RUN}/approvals/7`]: () => ({
        status: 409,
        body: { detail: "This approval was already decided (approve)." },
      }),
      "GET /api/approvals?pending=1": () => ({ body: { count: 0, results: [] } }),
    });
    renderIn(<ApprovalPanel runId={RUN} status="awaiting_approval" lastSeq={9} />);
    const reject = await screen.findByRole("button", { name: "Reject" });
    await act(async () => {
      fireEvent.click(reject);
    });
    expect(calls.find((c) => c.method === "POST")!.body).toEqual({ decision: "reject", comment: "" });
    expect((await screen.findByRole("alert")).textContent).toContain("already decided");
  });

  it("says who rejected a finished run's step, and when it timed out", async () => {
    fakeServer({
      [`GET /api/runs/${RUN}/approvals`]: () => ({
        body: [
          approval({
            id: 8,
            run_status: "rejected",
            pending: false,
            can_decide: false,
            decision: "reject",
            timed_out: true,
            decided_at: "2026-12-08T12:00:01Z",
            comment: "No decision before the deadline.",
          }),
        ],
      }),
    });
    renderIn(<ApprovalPanel runId={RUN} status="rejected" lastSeq={12} />);
    expect((await screen.findByTestId("approval-decision")).textContent).toMatch(/^Rejected automatically/);
  });

  it("renders nothing for a run without approval steps", async () => {
    const calls = fakeServer({ [`GET /api/runs/${RUN}/approvals`]: () => ({ body: [] }) });
    renderIn(<ApprovalPanel runId={RUN} status="succeeded" lastSeq={3} />);
    await act(async () => {});
    expect(calls).toHaveLength(1);
    expect(screen.queryByLabelText("Approvals")).toBeNull();
  });
});

describe("ApprovalsNavLink", () => {
  it("counts the approvals waiting for the user", async () => {
    fakeServer({
      "GET /api/approvals?pending=1": () => ({ body: { count: 2, results: [approval(), approval({ id: 9 })] } }),
    });
    renderIn(<ApprovalsNavLink />);
    expect((await screen.findByTestId("approvals-badge")).textContent).toBe("2");
    expect(screen.getByRole("link").getAttribute("href")).toBe("/approvals");
  });
});
