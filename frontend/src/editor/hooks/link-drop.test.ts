import { describe, expect, it } from "vitest";
import { schemaOf } from "../fixtures";
import { pendingLinkFrom, toRequest } from "./use-link-drop";
import { linkToPending, searchTitle } from "./use-node-search";

describe("links drawn on the canvas", () => {
  it("reads a link drawn from an output to an input as that output feeding that input", () => {
    expect(toRequest({ source: "a", sourceHandle: "out:1", target: "b", targetHandle: "in:image" })).toEqual({
      source: "a",
      sourceOutput: 1,
      target: "b",
      targetInput: "image",
    });
  });

  it("reads a link drawn backwards, from an input to an output, the same way round", () => {
    expect(toRequest({ source: "b", sourceHandle: "in:image", target: "a", targetHandle: "out:0" })).toEqual({
      source: "a",
      sourceOutput: 0,
      target: "b",
      targetInput: "image",
    });
  });

  it("refuses a link between two inputs or two outputs", () => {
    expect(toRequest({ source: "a", sourceHandle: "in:x", target: "b", targetHandle: "in:y" })).toBeNull();
    expect(toRequest({ source: "a", sourceHandle: "out:0", target: "b", targetHandle: "out:0" })).toBeNull();
    expect(toRequest({ source: "a", sourceHandle: null, target: "b", targetHandle: "in:y" })).toBeNull();
  });

  it("describes the dragged end of a link dropped in empty space by its socket's type", () => {
    const load = schemaOf("LoadImage");
    expect(pendingLinkFrom("out:1", "n1", load)).toEqual({ kind: "output", nodeId: "n1", index: 1, type: "MASK" });
    expect(pendingLinkFrom("in:image", "n2", schemaOf("ImageBlur"))).toEqual({
      kind: "input",
      nodeId: "n2",
      name: "image",
      type: "IMAGE",
    });
    expect(pendingLinkFrom("in:nothing", "n2", schemaOf("ImageBlur"))?.type).toBe("ANY");
    expect(pendingLinkFrom("bogus", "n2", load)).toBeNull();
  });

  it("links the node picked after a dropped output to its first compatible input", () => {
    const pending = { kind: "output", nodeId: "n1", index: 0, type: "IMAGE" } as const;
    expect(linkToPending(pending, schemaOf("ImageBlur"), "n9")).toEqual({
      source: "n1",
      sourceOutput: 0,
      target: "n9",
      targetInput: "image",
    });
  });

  it("links the node picked after a dropped input from its first compatible output", () => {
    const pending = { kind: "input", nodeId: "n2", name: "image", type: "IMAGE" } as const;
    expect(linkToPending(pending, schemaOf("LoadImage"), "n9")).toEqual({
      source: "n9",
      sourceOutput: 0,
      target: "n2",
      targetInput: "image",
    });
  });

  it("leaves the node picked unlinked when none of its sockets fits", () => {
    const pending = { kind: "input", nodeId: "n2", name: "mask", type: "MASK" } as const;
    expect(linkToPending(pending, schemaOf("ImageBlur"), "n9")).toBeNull();
  });

  it("titles the search after a dropped link with what its nodes must take or give", () => {
    expect(searchTitle(undefined)).toBeUndefined();
    expect(searchTitle({ kind: "output", nodeId: "a", index: 0, type: "IMAGE" })).toBe("Nodes that take IMAGE");
    expect(searchTitle({ kind: "input", nodeId: "a", name: "x", type: "MASK" })).toBe("Nodes that give MASK");
  });
});
