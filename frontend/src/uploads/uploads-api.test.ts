import { describe, expect, it } from "vitest";
import { widgetSchema } from "../api/schemas";
import { uploadSchema } from "./upload-schemas";
import { kindOfSource, uploadWidgetKind } from "./uploads-api";

describe("video and audio upload widgets", () => {
  it("list only their kind, upload as it and let the file dialog pick only it", () => {
    expect(uploadWidgetKind("video")).toEqual({ list: "video", kind: "video", fileTypes: "video/*" });
    expect(uploadWidgetKind("audio")).toEqual({ list: "audio", kind: "audio", fileTypes: "audio/*" });
    expect(uploadWidgetKind(undefined)).toEqual({ list: "image", kind: "image", fileTypes: "image/*" });
    expect(uploadWidgetKind("file")).toEqual({ list: "all", kind: undefined, fileTypes: undefined });
  });

  it("map select sources to upload kinds", () => {
    expect(kindOfSource("uploads.video")).toBe("video");
    expect(kindOfSource("uploads.audio")).toBe("audio");
    expect(kindOfSource("uploads.image")).toBe("image");
    expect(kindOfSource("uploads.file")).toBe("all");
    expect(kindOfSource("modelfiles.checkpoints")).toBeNull();
  });

  it("parse LoadVideo's widget and a video upload from the server", () => {
    const widget = widgetSchema.parse({ kind: "upload", accept: "video", source: "uploads.video" });
    expect(widget).toMatchObject({ kind: "upload", accept: "video" });
    const upload = uploadSchema.parse({
      id: 1,
      workspace: 2,
      name: "clip.mp4",
      kind: "video",
      content_type: "video/mp4",
      size: 10,
      sha256: "ab",
      width: 32,
      height: 24,
      created_by: null,
      created: "",
      updated: "",
      content_url: "/c",
      thumbnail_url: null,
    });
    expect(upload.kind).toBe("video");
  });
});
