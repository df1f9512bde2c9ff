import pytest

from nodepacks import sdk
from nodepacks.core.json_nodes import JSONDump, JSONGet, JSONParse, JSONSet
from nodepacks.core.text import (
    CaseConverter,
    RegexExtract,
    RegexMatch,
    RegexReplace,
    StringCompare,
    StringConcatenate,
    StringContains,
    StringLength,
    StringReplace,
    StringSubstring,
    StringTrim,
    TextFormat,
    TextJoin,
    TextSplit,
)
from nodepacks.sdk.testing import run_node


def test_concatenate_puts_the_delimiter_between():
    assert run_node(StringConcatenate, string_a="a", string_b="b", delimiter=", ")["string"] == "a, b"
    assert run_node(StringConcatenate, string_a="a", string_b="b")["string"] == "ab"


def test_small_string_nodes():
    assert run_node(StringSubstring, string="abcdef", start=1, end=-1)["string"] == "bcde"
    assert run_node(StringLength, string="héllo")["length"] == 5
    assert run_node(CaseConverter, string="hello world", mode="Title Case")["string"] == "Hello World"
    assert run_node(CaseConverter, string="Hi", mode="UPPERCASE")["string"] == "HI"
    assert run_node(StringTrim, string="  x  ", mode="Left")["string"] == "x  "
    assert run_node(StringReplace, string="a.b.c", find=".", replace="/")["string"] == "a/b/c"
    assert run_node(StringContains, string="Hello", substring="hell")["contains"] is False
    assert (
        run_node(StringContains, string="Hello", substring="hell", case_sensitive=False)["contains"] is True
    )
    assert run_node(
        StringCompare, string_a="photo.png", string_b=".PNG", mode="Ends With", case_sensitive=False
    )["result"]


def test_regex_replace_uses_groups_count_and_comfyui_defaults():
    out = run_node(RegexReplace, string="Cat cat CAT", regex_pattern="cat", replace="dog", count=2)["string"]
    assert out == "dog dog CAT"  # case-insensitive by default, as in ComfyUI
    swapped = run_node(RegexReplace, string="2024-05", regex_pattern=r"(\d+)-(\d+)", replace=r"\2/\1")[
        "string"
    ]
    assert swapped == "05/2024"


def test_bad_regex_is_a_clear_error():
    with pytest.raises(
        sdk.NodeError, match=r"invalid regular expression 'a\(b': missing \), unterminated subpattern"
    ):
        run_node(RegexReplace, string="x", regex_pattern="a(b", replace="")
    with pytest.raises(sdk.NodeError, match="invalid replacement"):
        run_node(RegexReplace, string="ab", regex_pattern="(a)", replace=r"\2")
    with pytest.raises(sdk.NodeError, match="invalid regular expression"):
        run_node(RegexMatch, string="x", regex_pattern="[")


def test_regex_match_and_extract_modes():
    text = "id=12, id=345"
    assert run_node(RegexMatch, string="Line\nTWO", regex_pattern="^two$", multiline=True)["matches"] is True
    assert run_node(RegexExtract, string=text, regex_pattern=r"\d+", mode="First Match")["string"] == "12"
    assert (
        run_node(RegexExtract, string=text, regex_pattern=r"id=(\d+)", mode="All Matches")["string"]
        == "12\n345"
    )
    assert (
        run_node(RegexExtract, string=text, regex_pattern=r"id=(\d+)", mode="First Group")["string"] == "12"
    )
    assert (
        run_node(RegexExtract, string=text, regex_pattern=r"(i)d=(\d+)", mode="All Groups", group_index=2)[
            "string"
        ]
        == "12\n345"
    )
    assert run_node(RegexExtract, string=text, regex_pattern=r"zzz", mode="First Group")["string"] == ""


def test_text_format_fills_named_and_positional_placeholders():
    out = run_node(TextFormat, template="{a} has {b:.1f} and {c}", a="cat", b=2.25, c=[1, 2])["string"]
    assert out == "cat has 2.2 and [1, 2]"
    assert run_node(TextFormat, template="{} + {}", a=1, b=2)["string"] == "1 + 2"


def test_text_format_errors_name_the_placeholder():
    with pytest.raises(sdk.NodeError, match=r"uses \{name\}"):
        run_node(TextFormat, template="{name}", a=1)
    with pytest.raises(sdk.NodeError, match=r"placeholder \{a.__class__\}: only plain names"):
        run_node(TextFormat, template="{a.__class__}", a=1)
    with pytest.raises(sdk.NodeError, match="only plain names"):
        run_node(TextFormat, template="{a:{b.__class__}}", a=1, b=2)
    with pytest.raises(sdk.NodeError, match="cannot fill the template"):
        run_node(TextFormat, template="{a:d}", a="text")


def test_split_and_join():
    outcome = run_node(TextSplit, string=" red, green,,blue ", delimiter=",")
    assert outcome["parts"] == ["red", "green", "blue"] and outcome["count"] == 3
    raw = run_node(TextSplit, string="a,,b", delimiter=",", strip=False, skip_empty=False)["parts"]
    assert raw == ["a", "", "b"]
    assert run_node(TextSplit, string="l1\nl2", delimiter="\\n")["parts"] == ["l1", "l2"]
    assert run_node(TextJoin, parts=["a", "b"], delimiter="\\n")["string"] == "a\nb"


def test_json_parse_reports_where_it_failed():
    assert run_node(JSONParse, text='{"a": [1, 2]}')["value"] == {"a": [1, 2]}
    with pytest.raises(sdk.NodeError, match="invalid JSON at line 2, column 5: Expecting property name"):
        run_node(JSONParse, text='{"a":\n  1,,}')


def test_json_get_by_path():
    data = {"items": [{"name": "x"}, {"name": "y"}], "n": 3}
    outcome = run_node(JSONGet, data=data, path="items.1.name")
    assert outcome["value"] == "y" and outcome["text"] == "y"
    assert run_node(JSONGet, data=data, path="items.-1")["text"] == '{"name": "y"}'
    assert run_node(JSONGet, data=data, path="")["value"] is data
    assert run_node(JSONGet, data=data, path="missing", default=0)["value"] == 0


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("items.5", "index 5 is out of range at items"),
        ("items.first", "items is a list, so 'first' must be an index"),
        ("nope", "key 'nope' not found at the root"),
        ("n.x", "cannot look up 'x': n is int"),
    ],
)
def test_json_get_names_the_missing_step(path, message):
    with pytest.raises(sdk.NodeError, match=message):
        run_node(JSONGet, data={"items": [1], "n": 3}, path=path)


def test_json_set_returns_a_new_object():
    data = {"a": {"b": 1}, "list": [1]}
    out = run_node(JSONSet, data=data, path="a.c.d", value=[True])["data"]
    assert out == {"a": {"b": 1, "c": {"d": [True]}}, "list": [1]}
    assert data == {"a": {"b": 1}, "list": [1]}
    assert run_node(JSONSet, data=data, path="list.1", value=2)["data"]["list"] == [1, 2]
    assert run_node(JSONSet, data=data, path="list.0", value=9)["data"]["list"] == [9]
    with pytest.raises(sdk.NodeError, match="index 4 is out of range"):
        run_node(JSONSet, data=data, path="list.4", value=0)
    with pytest.raises(sdk.NodeError, match="cannot set 'x': a.b is int"):
        run_node(JSONSet, data=data, path="a.b.x", value=0)


def test_json_dump():
    assert (
        run_node(JSONDump, data={"b": 1, "a": "é"}, indent=0, sort_keys=True)["text"] == '{"a": "é", "b": 1}'
    )
    assert run_node(JSONDump, data=[1], indent=2)["text"] == "[\n  1\n]"
