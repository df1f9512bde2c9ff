"""flowyard.toml: every problem reported at once, each naming its field; the host-provided policy."""

import pytest

from nodepacks.sdk.manifest import HOST_PROVIDED, ManifestError, load_manifest, parse_manifest

VALID = {
    "name": "my-pack",
    "version": "1.2.0",
    "display_name": "My Pack",
    "description": "Does things.",
    "publisher": "acme",
    "license": "Apache-2.0 OR MIT",
    "sdk_api": ">=1.0,<2",
}


def problems(**changes):
    data = {**VALID, **changes}
    data = {key: value for key, value in data.items() if value is not None}
    with pytest.raises(ManifestError) as caught:
        parse_manifest(data)
    return {error.path: error.message for error in caught.value.errors}


def test_a_minimal_manifest_gets_defaults():
    manifest = parse_manifest(VALID)
    assert manifest.entry == "my_pack"
    assert manifest.readme == "README.md"
    assert manifest.dependencies == [] and manifest.models == []
    assert manifest.entry_files == ("my_pack/__init__.py", "my_pack.py")


def test_full_manifest_reads_from_toml(tmp_path):
    (tmp_path / "flowyard.toml").write_text(
        """
name = "matting"
version = "0.3.1-beta.1"
display_name = "Matting"
description = "Cut out subjects."
publisher = "acme"
license = "(MIT OR Apache-2.0) AND BSD-3-Clause"
sdk_api = "~=1.0"
dependencies = ["opencv-python-headless==4.10.0.84", "numpy==2.1.0", "scipy==1.14.1; sys_platform == 'linux'"]
entry = "matting.nodes"
icon = "assets/icon.png"
changelog = "CHANGELOG.md"
categories = ["image/matting"]
homepage = "https://example.com/matting"

[[models]]
id = "damo/cv_unet_image-matting"
revision = "v1.0.0"
"""
    )
    manifest = load_manifest(tmp_path)
    assert manifest.models[0].id == "damo/cv_unet_image-matting"
    assert manifest.entry_files == ("matting/nodes/__init__.py", "matting/nodes.py")
    # numpy is host-provided: accepted (inside the host's range) but never installed by the pack.
    assert [r.name for r in manifest.installable_requirements] == ["opencv-python-headless", "scipy"]
    assert manifest.referenced_files() == {
        "readme": "README.md",
        "icon": "assets/icon.png",
        "changelog": "CHANGELOG.md",
    }


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("name", "My Pack", "lowercase"),
        ("name", None, "required"),
        ("version", "1.0", "semantic version"),
        ("display_name", "", "at least 1"),
        ("description", None, "required"),
        ("publisher", "Acme Corp", "lowercase"),
        ("license", "MIT OR", "SPDX"),
        ("license", "MIT AND AND BSD", "SPDX"),
        ("sdk_api", "latest", "not a version range"),
        ("sdk_api", ">=1.0", "upper bound"),
        ("sdk_api", ">=2.0,<3", "no released SDK API"),
        ("entry", "os", "shadow"),
        ("entry", "my-pack.nodes", "module path"),
        ("icon", "../icon.png", "relative path"),
        ("readme", "/etc/passwd", "relative path"),
        ("categories[0]", ["Bad Category!"], "lowercase"),
        ("homepage", "http://example.com", "https"),
        ("nonsense", 1, "unknown field"),
    ],
)
def test_each_bad_field_is_named_with_its_reason(field, value, reason):
    found = problems(**{field.split("[")[0]: value})
    assert field in found, found
    assert reason in found[field]


@pytest.mark.parametrize(
    ("requirement", "reason"),
    [
        ("requests", "'requests' must be pinned with =="),
        ("requests>=2.0", "must be pinned with =="),
        ("requests==2.*", "must be pinned with =="),
        ("requests==2.0,<3", "must be pinned with =="),
        ("evil @ https://example.com/evil.whl", "URL and direct references are not allowed"),
        ("not a requirement!", "not a PEP 508 requirement"),
        ("torch==1.13.0", "provided by the host"),
        ("numpy==1.21.0", "would replace the host's copy"),
        ("pip==24.0", "never install packages at run time"),
    ],
)
def test_dependencies_must_be_pinned_releases_that_leave_the_host_alone(requirement, reason):
    found = problems(dependencies=["scipy==1.14.1", requirement])
    assert reason in found["dependencies[1]"]
    assert "dependencies[0]" not in found


def test_a_host_package_inside_the_host_range_is_accepted_but_not_installed():
    low = HOST_PROVIDED["torch"].split(",")[0].removeprefix(">=")
    manifest = parse_manifest({**VALID, "dependencies": [f"torch=={low}.0"]})
    assert manifest.installable_requirements == []


def test_a_dependency_listed_twice_is_refused():
    assert "listed twice" in problems(dependencies=["scipy==1.14.1", "SciPy==1.14.1"])["dependencies[1]"]


def test_models_must_be_pinned_modelscope_ids():
    found = problems(models=[{"id": "not-an-id", "revision": "v1"}, {"id": "damo/x"}])
    assert "ModelScope model id" in found["models[0].id"]
    assert found["models[1].revision"] == "required field is missing"


def test_every_problem_is_listed_at_once_in_the_message():
    with pytest.raises(ManifestError) as caught:
        parse_manifest({**VALID, "version": "one", "dependencies": ["a==1", "b", "c==1", "d"]})
    message = str(caught.value)
    assert "3 problem(s)" in message
    assert "version: 'one' is not a semantic version" in message
    assert "dependencies[1]: 'b' must be pinned with ==" in message
    assert "dependencies[3]: 'd' must be pinned with ==" in message


def test_broken_toml_and_missing_file_are_manifest_errors(tmp_path):
    with pytest.raises(ManifestError, match="not valid TOML"):
        parse_manifest(b'name = "x\n')
    with pytest.raises(ManifestError, match="no such file"):
        load_manifest(tmp_path)
    with pytest.raises(ManifestError, match="not UTF-8"):
        parse_manifest(b"name = '\xff'")
