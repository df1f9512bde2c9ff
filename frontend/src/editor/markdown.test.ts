// @vitest-environment jsdom
import { describe, expect, it } from "vitest";
import { renderNoteMarkdown } from "./markdown";

describe("renderNoteMarkdown", () => {
  it("renders Markdown", () => {
    const html = renderNoteMarkdown("# Title\n\nSome **bold** and a [link](https://example.com).\n\n- one\n- two");
    expect(html).toContain("<h1>Title</h1>");
    expect(html).toContain("<strong>bold</strong>");
    expect(html).toContain('<a href="https://example.com">link</a>');
    expect(html).toContain("<li>one</li>");
  });

  it("shows raw HTML as text and strips anything that could run", () => {
    const html = renderNoteMarkdown(
      '<script>alert(1)</script>\n\nhi <b onclick="x()">b</b> [x](javascript:alert(1)) ![i](http://evil/x.png)',
    );
    expect(html).not.toContain("<script");
    expect(html).not.toContain("<b ");
    expect(html).toContain("&lt;script&gt;");
    expect(html).not.toMatch(/href="javascript/);
    expect(html).not.toContain("<img");
  });
});
