// @vitest-environment jsdom
// Image, video and audio outputs render as a picture or a player; files as downloads; texts stay texts.
import { cleanup, render } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { FileOutput, isShownMedia, isTextual, MediaOutput } from "./media-output";
import { imagesOf, type RunState } from "./run-state";

afterEach(cleanup);

const base = { id: 1, node_id: "3", index: 0, saved: true, size: 2048 };

describe("MediaOutput", () => {
  it("plays a video looping, muted, inline, with controls", () => {
    const { container } = render(
      <MediaOutput
        result={{
          ...base,
          kind: "video",
          url: "/api/runs/r/outputs/1",
          filename: "clip_00001.mp4",
          content_type: "video/mp4",
        }}
      />,
    );
    const video = container.querySelector("video")!;
    expect(video).not.toBeNull();
    expect(video.getAttribute("src")).toBe("/api/runs/r/outputs/1");
    expect(video.hasAttribute("controls")).toBe(true);
    expect(video.hasAttribute("loop")).toBe(true);
    expect(video.muted).toBe(true);
    expect(video.hasAttribute("playsinline")).toBe(true);
    expect(container.querySelector("img")).toBeNull();
  });

  it("plays audio with controls and shows images as pictures", () => {
    const audio = render(
      <MediaOutput result={{ kind: "audio", url: "/a.flac", filename: "a.flac", content_type: "audio/flac" }} />,
    ).container.querySelector("audio")!;
    expect(audio.getAttribute("src")).toBe("/a.flac");
    expect(audio.hasAttribute("controls")).toBe(true);
    cleanup();
    const { container } = render(
      <MediaOutput result={{ kind: "image", url: "/anim.webp", filename: "anim.webp", content_type: "image/webp" }} />,
    );
    expect(container.querySelector("img")!.getAttribute("src")).toBe("/anim.webp");
    expect(container.querySelector("video, audio")).toBeNull();
  });

  it("offers other files as downloads", () => {
    const { container } = render(
      <FileOutput result={{ url: "/notes.json", filename: "notes_00001.json", size: 2048 }} />,
    );
    const link = container.querySelector("a")!;
    expect(link.getAttribute("download")).toBe("notes_00001.json");
    expect(link.textContent).toBe("notes_00001.json (2 KB)");
  });
});

describe("which outputs show where", () => {
  it("shows media in place and keeps files out of the text list", () => {
    expect(isShownMedia({ kind: "video", url: "/v" })).toBe(true);
    expect(isShownMedia({ kind: "audio", url: null })).toBe(false);
    expect(isShownMedia({ kind: "file", url: "/f" })).toBe(false);
    expect([
      isTextual({ kind: "text" }),
      isTextual({ kind: "json" }),
      isTextual({ kind: "file" }),
      isTextual({ kind: "video" }),
    ]).toEqual([true, true, false, false]);
  });

  it("puts videos and audio in the gallery, saved ones first", () => {
    const results = [
      { ...base, id: 1, kind: "audio", url: "/a", saved: false },
      { ...base, id: 2, kind: "video", url: "/v" },
      { ...base, id: 3, kind: "text", text: "hi" },
      { ...base, id: 4, kind: "file", url: "/f" },
    ];
    const state = { order: ["3"], nodes: { "3": { results } } } as unknown as RunState;
    expect(imagesOf(state).map((r) => r.id)).toEqual([2, 1]);
  });
});
