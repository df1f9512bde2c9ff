"""Text nodes: ComfyUI's string nodes (comfy_extras/nodes_string.py) plus format, split and join.

Bad regular expressions fail with a NodeError naming the pattern's problem rather than silently matching
nothing.
"""

from __future__ import annotations

import re
import string
from typing import Any

from nodepacks import sdk


def _compile(pattern: str, *, case_insensitive: bool, multiline: bool, dotall: bool) -> re.Pattern[str]:
    """Return the compiled pattern, or raise a NodeError that says where the pattern is wrong."""
    flags = (
        (re.IGNORECASE if case_insensitive else 0)
        | (re.MULTILINE if multiline else 0)
        | (re.DOTALL if dotall else 0)
    )
    try:
        return re.compile(pattern, flags)
    except re.error as exc:
        where = f" at position {exc.pos}" if exc.pos is not None else ""
        raise sdk.NodeError(f"invalid regular expression {pattern!r}: {exc.msg}{where}") from None


class StringConcatenate(sdk.Node):
    """Join string_a and string_b with the delimiter between them. Returns STRING."""

    id = "StringConcatenate"
    display_name = "Concatenate Text"
    category = "text"

    class Inputs(sdk.Inputs):
        string_a: str = sdk.text("", multiline=True)
        string_b: str = sdk.text("", multiline=True)
        delimiter: str = sdk.text("", tooltip="Put between the two strings, e.g. ', ' or a space")

    class Outputs(sdk.Outputs):
        string: str

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        return self.Outputs(string=inputs.delimiter.join((inputs.string_a, inputs.string_b)))


class StringSubstring(sdk.Node):
    """The characters from start up to (not including) end; negative positions count from the end. Returns STRING."""

    id = "StringSubstring"
    display_name = "Substring"
    category = "text"

    class Inputs(sdk.Inputs):
        string: str = sdk.text("", multiline=True)
        start: int = sdk.number(0)
        end: int = sdk.number(0, tooltip="Exclusive; -1 stops before the last character")

    class Outputs(sdk.Outputs):
        string: str

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        return self.Outputs(string=inputs.string[inputs.start : inputs.end])


class StringLength(sdk.Node):
    """The number of characters in the text. Returns INT."""

    id = "StringLength"
    display_name = "Text Length"
    category = "text"

    class Inputs(sdk.Inputs):
        string: str = sdk.text("", multiline=True)

    class Outputs(sdk.Outputs):
        length: int

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        return self.Outputs(length=len(inputs.string))


class CaseConverter(sdk.Node):
    """The text in UPPERCASE, lowercase, Capitalized or Title Case. Returns STRING."""

    id = "CaseConverter"
    display_name = "Convert Text Case"
    category = "text"

    class Inputs(sdk.Inputs):
        string: str = sdk.text("", multiline=True)
        mode: str = sdk.select(options=["UPPERCASE", "lowercase", "Capitalize", "Title Case"])

    class Outputs(sdk.Outputs):
        string: str

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        convert = {
            "UPPERCASE": str.upper,
            "lowercase": str.lower,
            "Capitalize": str.capitalize,
            "Title Case": str.title,
        }
        return self.Outputs(string=convert[inputs.mode](inputs.string))


class StringTrim(sdk.Node):
    """The text without leading and/or trailing whitespace. Returns STRING."""

    id = "StringTrim"
    display_name = "Trim Text"
    category = "text"

    class Inputs(sdk.Inputs):
        string: str = sdk.text("", multiline=True)
        mode: str = sdk.select(options=["Both", "Left", "Right"])

    class Outputs(sdk.Outputs):
        string: str

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        trim = {"Both": str.strip, "Left": str.lstrip, "Right": str.rstrip}
        return self.Outputs(string=trim[inputs.mode](inputs.string))


class StringReplace(sdk.Node):
    """The text with every occurrence of find replaced (plain text, not a pattern). Returns STRING."""

    id = "StringReplace"
    display_name = "Replace Text"
    category = "text"

    class Inputs(sdk.Inputs):
        string: str = sdk.text("", multiline=True)
        find: str = sdk.text("", multiline=True)
        replace: str = sdk.text("", multiline=True)

    class Outputs(sdk.Outputs):
        string: str

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        return self.Outputs(string=inputs.string.replace(inputs.find, inputs.replace))


class StringContains(sdk.Node):
    """Whether the text contains the substring. Returns BOOLEAN."""

    id = "StringContains"
    display_name = "Contains Text"
    category = "text"

    class Inputs(sdk.Inputs):
        string: str = sdk.text("", multiline=True)
        substring: str = sdk.text("", multiline=True)
        case_sensitive: bool = sdk.toggle(True)

    class Outputs(sdk.Outputs):
        contains: bool

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        text, part = inputs.string, inputs.substring
        if not inputs.case_sensitive:
            text, part = text.lower(), part.lower()
        return self.Outputs(contains=part in text)


class StringCompare(sdk.Node):
    """Whether string_a starts with, ends with or equals string_b. Returns BOOLEAN."""

    id = "StringCompare"
    display_name = "Compare Text"
    category = "text"

    class Inputs(sdk.Inputs):
        string_a: str = sdk.text("", multiline=True)
        string_b: str = sdk.text("", multiline=True)
        mode: str = sdk.select(options=["Starts With", "Ends With", "Equal"])
        case_sensitive: bool = sdk.toggle(True)

    class Outputs(sdk.Outputs):
        result: bool

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        a, b = inputs.string_a, inputs.string_b
        if not inputs.case_sensitive:
            a, b = a.lower(), b.lower()
        if inputs.mode == "Starts With":
            return self.Outputs(result=a.startswith(b))
        if inputs.mode == "Ends With":
            return self.Outputs(result=a.endswith(b))
        return self.Outputs(result=a == b)


class RegexMatch(sdk.Node):
    """Whether the regular expression matches anywhere in the text. Returns BOOLEAN."""

    id = "RegexMatch"
    display_name = "Match Text"
    category = "text"

    class Inputs(sdk.Inputs):
        string: str = sdk.text("", multiline=True)
        regex_pattern: str = sdk.text("", multiline=True, tooltip="A Python regular expression")
        case_insensitive: bool = sdk.toggle(True)
        multiline: bool = sdk.toggle(False, tooltip="^ and $ match at every line")
        dotall: bool = sdk.toggle(False, tooltip=". also matches newlines")

    class Outputs(sdk.Outputs):
        matches: bool

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        pattern = _compile(
            inputs.regex_pattern,
            case_insensitive=inputs.case_insensitive,
            multiline=inputs.multiline,
            dotall=inputs.dotall,
        )
        return self.Outputs(matches=pattern.search(inputs.string) is not None)


class RegexExtract(sdk.Node):
    """Text the regular expression matches: the first or all matches, or a group of them. Returns STRING.

    "All" modes join their results with newlines; no match gives an empty string.
    """

    id = "RegexExtract"
    display_name = "Extract Text"
    category = "text"

    class Inputs(sdk.Inputs):
        string: str = sdk.text("", multiline=True)
        regex_pattern: str = sdk.text("", multiline=True, tooltip="A Python regular expression")
        mode: str = sdk.select(options=["First Match", "All Matches", "First Group", "All Groups"])
        case_insensitive: bool = sdk.toggle(True)
        multiline: bool = sdk.toggle(False, tooltip="^ and $ match at every line")
        dotall: bool = sdk.toggle(False, tooltip=". also matches newlines")
        group_index: int = sdk.number(1, min=0, max=100, tooltip="Which (group) the Group modes return")

    class Outputs(sdk.Outputs):
        string: str

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        pattern = _compile(
            inputs.regex_pattern,
            case_insensitive=inputs.case_insensitive,
            multiline=inputs.multiline,
            dotall=inputs.dotall,
        )
        text, index = inputs.string, inputs.group_index

        def group_of(match: re.Match[str]) -> str | None:
            return match.group(index) if len(match.groups()) >= index else None

        if inputs.mode == "First Match":
            match = pattern.search(text)
            return self.Outputs(string=match.group(0) if match else "")
        if inputs.mode == "All Matches":
            # as re.findall: a pattern with groups yields its first group rather than the whole match
            found = pattern.findall(text)
            return self.Outputs(string="\n".join(m[0] if isinstance(m, tuple) else m for m in found))
        if inputs.mode == "First Group":
            match = pattern.search(text)
            return self.Outputs(string=(group_of(match) or "") if match else "")
        groups = (group_of(m) for m in pattern.finditer(text) if m.groups())
        return self.Outputs(string="\n".join(g for g in groups if g is not None))


class RegexReplace(sdk.Node):
    """The text with matches of the regular expression replaced; \\1 or \\g<name> insert groups. Returns STRING."""

    id = "RegexReplace"
    display_name = "Replace Text (Regex)"
    category = "text"

    class Inputs(sdk.Inputs):
        string: str = sdk.text("", multiline=True)
        regex_pattern: str = sdk.text("", multiline=True, tooltip="A Python regular expression")
        replace: str = sdk.text("", multiline=True, tooltip="Replacement; \\1 inserts the first group")
        case_insensitive: bool = sdk.toggle(True)
        multiline: bool = sdk.toggle(False, tooltip="^ and $ match at every line")
        dotall: bool = sdk.toggle(False, tooltip=". also matches newlines")
        count: int = sdk.number(0, min=0, max=100, tooltip="Most replacements to make; 0 replaces all")

    class Outputs(sdk.Outputs):
        string: str

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        pattern = _compile(
            inputs.regex_pattern,
            case_insensitive=inputs.case_insensitive,
            multiline=inputs.multiline,
            dotall=inputs.dotall,
        )
        try:
            result = pattern.sub(inputs.replace, inputs.string, count=inputs.count)
        except re.error as exc:  # e.g. \2 when the pattern has one group
            raise sdk.NodeError(f"invalid replacement {inputs.replace!r}: {exc}") from None
        return self.Outputs(string=result)


class TextFormat(sdk.Node):
    """Fill a template's {a} … {f} placeholders (or {} / {0} positionally) with the inputs. Returns STRING.

    Format specs work as in Python ({a:.2f}, {b:>5}); attribute and index lookups ({a.x}, {a[0]}) are refused.
    """

    id = "TextFormat"
    display_name = "Format Text"
    category = "text"

    class Inputs(sdk.Inputs):
        template: str = sdk.text("{a}", multiline=True, tooltip="e.g. 'a photo of {a}, {b} style'")
        a: sdk.AnyValue = sdk.link(optional=True)
        b: sdk.AnyValue = sdk.link(optional=True)
        c: sdk.AnyValue = sdk.link(optional=True)
        d: sdk.AnyValue = sdk.link(optional=True)
        e: sdk.AnyValue = sdk.link(optional=True)
        f: sdk.AnyValue = sdk.link(optional=True)

    class Outputs(sdk.Outputs):
        string: str

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        values = {name: getattr(inputs, name) for name in "abcdef"}
        return self.Outputs(string=_format(inputs.template, values))


class _PlainFormatter(string.Formatter):
    """A formatter that only looks fields up by name or position, never by attribute or index."""

    def get_field(self, field_name: str, args: Any, kwargs: Any) -> Any:
        if "." in field_name or "[" in field_name:
            # attribute lookups would let a template reach into the server process (e.g. {a.__class__})
            raise sdk.NodeError(f"placeholder {{{field_name}}}: only plain names like {{a}} are allowed")
        return super().get_field(field_name, args, kwargs)


def _format(template: str, values: dict[str, Any]) -> str:
    try:
        return _PlainFormatter().format(template, *values.values(), **values)
    except KeyError as exc:
        raise sdk.NodeError(f"the template uses {{{exc.args[0]}}}, but the inputs are a … f") from None
    except IndexError:
        raise sdk.NodeError("the template has more positional {} placeholders than the 6 inputs") from None
    except (ValueError, TypeError) as exc:
        raise sdk.NodeError(f"cannot fill the template: {exc}") from None


class TextSplit(sdk.Node):
    """Split the text at every delimiter. Returns the parts as LIST[STRING] and their count."""

    id = "TextSplit"
    display_name = "Split Text"
    category = "text"

    class Inputs(sdk.Inputs):
        string: str = sdk.text("", multiline=True)
        delimiter: str = sdk.text(",", tooltip="Where to split; \\n splits lines; empty splits on whitespace")
        strip: bool = sdk.toggle(True, tooltip="Trim whitespace around each part")
        skip_empty: bool = sdk.toggle(True, tooltip="Leave out empty parts")

    class Outputs(sdk.Outputs):
        parts: list[str]
        count: int

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        delimiter = inputs.delimiter.replace("\\n", "\n").replace("\\t", "\t")
        parts = inputs.string.split(delimiter) if delimiter else inputs.string.split()
        if inputs.strip:
            parts = [part.strip() for part in parts]
        if inputs.skip_empty:
            parts = [part for part in parts if part]
        return self.Outputs(parts=parts, count=len(parts))


class TextJoin(sdk.Node):
    """Join a list of texts with a delimiter between them. Returns STRING."""

    id = "TextJoin"
    display_name = "Join Text"
    category = "text"

    class Inputs(sdk.Inputs):
        parts: list[str] = sdk.link()
        delimiter: str = sdk.text(", ", tooltip="Put between the parts; \\n puts each on its own line")

    class Outputs(sdk.Outputs):
        string: str

    def execute(self, inputs: Inputs, ctx: sdk.Context) -> Outputs:
        delimiter = inputs.delimiter.replace("\\n", "\n").replace("\\t", "\t")
        return self.Outputs(string=delimiter.join(str(part) for part in inputs.parts))


NODES: list[type[sdk.Node]] = [
    StringConcatenate,
    StringSubstring,
    StringLength,
    CaseConverter,
    StringTrim,
    StringReplace,
    StringContains,
    StringCompare,
    RegexMatch,
    RegexExtract,
    RegexReplace,
    TextFormat,
    TextSplit,
    TextJoin,
]
