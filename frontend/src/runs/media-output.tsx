// How a node's file outputs show: images as pictures, videos and audio as players, other files as downloads.
import type { RunResult } from "./run-schemas";

/** Output kinds the browser shows in place (picture or player). */
const SHOWN = new Set(["image", "video", "audio"]);

/** True for a result with a file the page shows in place: an image, a video or audio. */
export function isShownMedia(result: Pick<RunResult, "kind" | "url">): boolean {
  return SHOWN.has(result.kind) && Boolean(result.url);
}

/** True for a result shown as text: text and JSON (files and media are not). */
export function isTextual(result: Pick<RunResult, "kind">): boolean {
  return result.kind === "text" || result.kind === "json";
}

/** One image, video or audio output: <img>, a looping muted <video controls>, or <audio controls>. */
export function MediaOutput({
  result,
  className,
}: {
  result: Pick<RunResult, "kind" | "url" | "filename" | "content_type">;
  className?: string;
}) {
  const url = result.url ?? undefined;
  const label = result.filename ?? "output";
  if (result.kind === "video") {
    return (
      <video className={className} src={url} controls loop muted playsInline preload="metadata" aria-label={label}>
        <a href={url} download={result.filename ?? true}>
          {label}
        </a>
      </video>
    );
  }
  if (result.kind === "audio") {
    return <audio className={className} src={url} controls preload="metadata" aria-label={label} />;
  }
  return <img className={className} src={url} alt={label} loading="lazy" />;
}

/** A download link for an output file the page does not show (a saved text or JSON file). */
export function FileOutput({ result }: { result: Pick<RunResult, "url" | "filename" | "size"> }) {
  return (
    <a className="fy-output-file" href={result.url ?? undefined} download={result.filename ?? true}>
      {result.filename ?? "file"}
      {result.size ? ` (${Math.max(1, Math.round(result.size / 1024))} KB)` : ""}
    </a>
  );
}
