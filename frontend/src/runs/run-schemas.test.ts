// The zod schemas against payloads recorded from the real backend (see __fixtures__/backend-samples.json).
import { describe, expect, it } from "vitest";
import { apiErrorBodySchema } from "../api/schemas";
import { uploadListSchema, uploadSchema } from "../uploads/upload-schemas";
import samples from "./__fixtures__/backend-samples.json";
import {
  anyEventSchema,
  CLOSE_NOT_FOUND,
  eventPageSchema,
  runDetailSchema,
  runEventSchema,
  runPageSchema,
  workspaceEventSchema,
} from "./run-schemas";

describe("websocket messages recorded from the backend", () => {
  it("parses every ws/runs/<id>/ event of a succeeded and a failed run", () => {
    for (const message of [...samples.run_ws_messages, ...samples.failed_ws_messages]) {
      const parsed = runEventSchema.safeParse(message);
      expect(parsed.success, JSON.stringify(message)).toBe(true);
    }
  });

  it("turns event results into the detail's result shape", () => {
    const finished = samples.run_ws_messages.find((m) => m.type === "node_finished" && m.node === "3")!;
    const parsed = runEventSchema.parse(finished);
    if (parsed.type !== "node_finished") throw new Error("unexpected type");
    expect(parsed.data.results[0]).toMatchObject({ node_id: "3", kind: "image", saved: true });
    expect(parsed.data.results[0]!.url).toMatch(/^\/api\/runs\/.+\/outputs\/\d+$/);
  });

  it("parses every ws/events/ message (run.status and run.queue)", () => {
    expect(samples.events_ws_messages.length).toBeGreaterThan(0);
    const kinds = new Set<string>();
    for (const message of samples.events_ws_messages) {
      const parsed = workspaceEventSchema.safeParse(message);
      expect(parsed.success, JSON.stringify(message)).toBe(true);
      kinds.add(message.type);
    }
    expect(kinds).toEqual(new Set(["run.status", "run.queue"]));
  });

  it("parses the resync notice a socket gets when the server dropped its backlog", () => {
    expect(workspaceEventSchema.parse({ type: "resync" })).toEqual({ type: "resync" });
  });

  it("keeps an event type it does not know as `unknown`, and refuses a malformed known one", () => {
    expect(anyEventSchema.parse({ seq: 4, type: "node_warning", node: "2", data: {}, time: 1 }).type).toBe("unknown");
    expect(
      anyEventSchema.safeParse({ seq: 4, type: "progress", node: "2", data: { value: "x" }, time: 1 }).success,
    ).toBe(false);
    expect(anyEventSchema.safeParse({ type: "progress" }).success).toBe(false);
  });

  it("knows the not-found close code the backend sends", () => {
    expect(samples.ws_not_found_close_code).toBe(CLOSE_NOT_FOUND);
  });
});

describe("REST payloads recorded from the backend", () => {
  it("parses run details, the created run, the list page and an events page", () => {
    expect(runDetailSchema.safeParse(samples.run_detail).success).toBe(true);
    expect(runDetailSchema.safeParse(samples.failed_detail).success).toBe(true);
    expect(runDetailSchema.parse(samples.run_created).status).toBe("queued");
    expect(runPageSchema.parse(samples.run_list).results.length).toBeGreaterThan(0);
    const page = eventPageSchema.parse(samples.run_events_page);
    expect(page.events[0]!.seq).toBe(4);
  });

  it("reads the pack versions a run was validated with (none recorded: empty)", () => {
    expect(runDetailSchema.parse(samples.run_detail).packs).toEqual({});
    const withPacks = runDetailSchema.parse({ ...samples.run_detail, packs: { demo: "1.0.0" } });
    expect(withPacks.packs).toEqual({ demo: "1.0.0" });
    expect(runDetailSchema.safeParse({ ...samples.run_detail, packs: { demo: 1 } }).success).toBe(false);
  });

  it("parses a graph validation error naming the node", () => {
    const body = apiErrorBodySchema.parse(samples.validation_error.body);
    expect(body.errors?.[0]).toMatchObject({ node: "2", code: "unknown_node_type" });
  });

  it("parses uploads", () => {
    expect(uploadSchema.parse(samples.upload_created).thumbnail_url).toContain("/thumbnail");
    expect(uploadListSchema.parse(samples.upload_list)).toHaveLength(1);
  });
});
