"""Real packs built with the toolchain, their environments (built once per session) and a host pool."""

from __future__ import annotations

import hashlib
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from workers.packs.build import build_pack
from workers.runtime.packhost import PackEnv, PackEnvironments, PackHostPool
from workers.runtime.packhost.sandbox import HostLimits

MANIFEST = """\
name = "{name}"
version = "{version}"
display_name = "Test pack {name}"
description = "A pack made by the packhost tests."
publisher = "flowyard-tests"
license = "MIT"
sdk_api = ">=1.0,<2"
dependencies = ["six=={six}", "numpy==2.4.6"]
"""

NODES = '''\
"""Probe nodes: what can a pack see and do from inside its host?"""

import os
import socket
import subprocess
import time

import six

from nodepacks import sdk


class Version(sdk.Node):
    id = "{name}.Version"

    class Outputs(sdk.Outputs):
        version: str

    def execute(self, inputs, ctx):
        return self.Outputs(version=six.__version__)


class Add(sdk.Node):
    id = "{name}.Add"

    class Inputs(sdk.Inputs):
        a: int = sdk.number(0)
        b: int = sdk.number(1)

    class Outputs(sdk.Outputs):
        total: int

    def execute(self, inputs, ctx):
        return self.Outputs(total=inputs.a + inputs.b)


class Environ(sdk.Node):
    id = "{name}.Environ"

    class Outputs(sdk.Outputs):
        env: sdk.JSONValue

    def execute(self, inputs, ctx):
        return self.Outputs(env=dict(os.environ))


class Where(sdk.Node):
    id = "{name}.Where"

    class Outputs(sdk.Outputs):
        info: sdk.JSONValue

    def execute(self, inputs, ctx):
        import numpy
        return self.Outputs(info={{"cwd": os.getcwd(), "numpy": numpy.__file__, "six": six.__file__}})


class Write(sdk.Node):
    id = "{name}.Write"

    class Inputs(sdk.Inputs):
        path: str = sdk.text("")

    class Outputs(sdk.Outputs):
        result: str

    def execute(self, inputs, ctx):
        try:
            with open(inputs.path, "w") as handle:
                handle.write("pwned")
            return self.Outputs(result="written " + os.path.abspath(inputs.path))
        except OSError as exc:
            return self.Outputs(result="refused " + str(exc))


class Shell(sdk.Node):
    id = "{name}.Shell"

    class Inputs(sdk.Inputs):
        command: str = sdk.text("env")

    class Outputs(sdk.Outputs):
        output: str

    def execute(self, inputs, ctx):
        done = subprocess.run(["/bin/sh", "-c", inputs.command], capture_output=True, text=True)
        return self.Outputs(output=done.stdout + done.stderr)


class Connect(sdk.Node):
    id = "{name}.Connect"

    class Outputs(sdk.Outputs):
        result: str

    def execute(self, inputs, ctx):
        try:
            socket.create_connection(("1.1.1.1", 80), timeout=2).close()
            return self.Outputs(result="connected")
        except OSError as exc:
            return self.Outputs(result="refused " + str(exc))


class Crash(sdk.Node):
    id = "{name}.Crash"

    class Outputs(sdk.Outputs):
        never: int

    def execute(self, inputs, ctx):
        print("about to crash", flush=True)
        os._exit(3)


class Fail(sdk.Node):
    id = "{name}.Fail"

    class Outputs(sdk.Outputs):
        never: int

    def execute(self, inputs, ctx):
        raise ValueError("boom")


class Sleep(sdk.Node):
    id = "{name}.Sleep"

    class Inputs(sdk.Inputs):
        seconds: float = sdk.number(60.0)
        polite: bool = sdk.toggle(False)

    class Outputs(sdk.Outputs):
        slept: float

    def execute(self, inputs, ctx):
        end = time.monotonic() + inputs.seconds
        while time.monotonic() < end:
            if inputs.polite:
                ctx.check_cancelled()
            time.sleep(0.02)
        return self.Outputs(slept=inputs.seconds)


class Invert(sdk.Node):
    id = "{name}.Invert"

    class Inputs(sdk.Inputs):
        image: sdk.Image = sdk.link()

    class Outputs(sdk.Outputs):
        image: sdk.Image

    def execute(self, inputs, ctx):
        ctx.progress(1, 2, preview=inputs.image[:1, :8, :8])
        ctx.log.info("inverting %s", inputs.image.shape)
        return sdk.Result(self.Outputs(image=1.0 - inputs.image), sdk.UI(text=["inverted"]))


class Echo(sdk.Node):
    id = "{name}.Echo"

    class Inputs(sdk.Inputs):
        value: sdk.AnyValue = sdk.link()

    class Outputs(sdk.Outputs):
        value: sdk.AnyValue

    def execute(self, inputs, ctx):
        return self.Outputs(value=inputs.value)


class ReadUpload(sdk.Node):
    id = "{name}.ReadUpload"

    class Inputs(sdk.Inputs):
        ref: str = sdk.text("")

    class Outputs(sdk.Outputs):
        text: str

    def execute(self, inputs, ctx):
        with ctx.files.open(inputs.ref) as handle:
            return self.Outputs(text=handle.read().decode() + ":" + ctx.files.sha256(inputs.ref))


class Clip(sdk.Node):
    id = "{name}.Clip"

    class Inputs(sdk.Inputs):
        size: int = sdk.number(100_000)
        format: str = sdk.text("mp4")

    class Outputs(sdk.Outputs):
        size: int

    def execute(self, inputs, ctx):
        video = bytes(i % 251 for i in range(inputs.size))
        files = [sdk.MediaFile(video, inputs.format, "video"), sdk.MediaFile(b"RIFF-wav", "wav", "audio")]
        return sdk.Result(self.Outputs(size=len(video)), sdk.UI(files=files, saved=True, filename_prefix="clip"))


pack = sdk.Pack(
    name="{name}",
    version="{version}",
    nodes=[
        Version, Add, Environ, Where, Write, Shell, Connect, Crash, Fail, Sleep, Invert, Echo, ReadUpload, Clip
    ],
)
'''


def make_pack_source(root: Path, name: str, six: str, version: str = "1.0.0") -> Path:
    """A pack source folder whose nodes report six's version and probe the sandbox."""
    folder = root / f"{name}-src"
    (folder / name).mkdir(parents=True)
    (folder / "flowyard.toml").write_text(MANIFEST.format(name=name, version=version, six=six))
    (folder / "README.md").write_text(f"# {name}\n")
    (folder / name / "__init__.py").write_text(textwrap.dedent(NODES.format(name=name, version=version)))
    return folder


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Archives of two packs pinning conflicting versions of six."""
    root = tmp_path_factory.mktemp("packsrc")
    return {
        "sixa": build_pack(make_pack_source(root, "sixa", "1.16.0"), root / "dist"),
        "sixb": build_pack(make_pack_source(root, "sixb", "1.15.0"), root / "dist"),
    }


@pytest.fixture(scope="session")
def environments(tmp_path_factory: pytest.TempPathFactory) -> PackEnvironments:
    return PackEnvironments(tmp_path_factory.mktemp("packenvs"))


@pytest.fixture(scope="session")
def envs(built: dict[str, Path], environments: PackEnvironments) -> dict[str, PackEnv]:
    return {name: environments.ensure(path, sha256_of(path)) for name, path in built.items()}


@pytest.fixture(scope="session")
def scratch_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("scratch")


@pytest.fixture(scope="session")
def pool(scratch_root: Path) -> Iterator[PackHostPool]:
    with PackHostPool(scratch_root=scratch_root, limits=HostLimits(cancel_grace=1.0)) as hosts:
        yield hosts
