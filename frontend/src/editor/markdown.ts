// Note text as safe HTML: Markdown (marked) with raw HTML shown as text, then sanitised (DOMPurify) so that
// nothing a note holds can run script or load content from elsewhere.
import DOMPurify from "dompurify";
import { Marked } from "marked";

function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

// Raw HTML in a note (block or inline) is shown as typed, never interpreted.
const markdown = new Marked({
  gfm: true,
  breaks: true,
  async: false,
  renderer: { html: ({ text }) => escapeHtml(text) },
});

/** Markdown to sanitised HTML (no raw HTML, no scripts, no event handlers, no images from elsewhere). */
export function renderNoteMarkdown(text: string): string {
  const html = markdown.parse(text) as string;
  return DOMPurify.sanitize(html, { FORBID_TAGS: ["img", "style", "iframe", "form", "input"], FORBID_ATTR: ["style"] });
}
