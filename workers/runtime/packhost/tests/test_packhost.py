# mypy: disallow-untyped-defs=False
"""Isolated pack execution end to end: real archives, real venvs (uv), real host processes."""

from __future__ import annotations

import os
import threading
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nodepacks.sdk import Context, MediaFile, NodeError
from workers.engine import Engine, MemoryCache, NodeRegistry, RunResult, parse_graph
from workers.runtime.packhost import (
    HostLimits,
    PackEnv,
    PackEnvError,
    PackEnvironments,
    PackHostPool,
    bwrap_probe,
    registry_with_packs,
    sandbox,
    sandbox_mode,
)
from workers.runtime.packhost.tests.conftest import sha256_of

REPO = Path(__file__).resolve().parents[4]
SECRETS = {
    "SECRET_KEY": "django-insecure-secret",
    "DATABASE_URL": "postgres://admin:hunter2@db/flowyard",
    "AWS_SECRET_ACCESS_KEY": "aws-secret",
    "REDIS_URL": "redis://:pw@cache:6379/0",
    "GITHUB_TOKEN": "ghp_token",
}
BWRAP = bwrap_probe()[0] is not None and sandbox_mode() == "bwrap"


@pytest.fixture(autouse=True)
def secrets_in_parent(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)


def call(pool: PackHostPool, env: PackEnv, node: str, **inputs: object) -> list[Any]:
    outputs, _ = pool.execute(env, f"{env.name}.{node}", dict(inputs), Context("n"))
    assert outputs is not None
    return outputs


def run_graph(
    registry: NodeRegistry,
    nodes: dict[str, tuple[str, dict[str, Any]]],
    outputs: list[str],
    cancel: threading.Event | None = None,
) -> RunResult:
    data = {"nodes": {k: {"type": t, "inputs": i} for k, (t, i) in nodes.items()}, "outputs": outputs}
    engine = Engine(registry, MemoryCache())
    try:
        return engine.run(parse_graph(data), cancel=cancel)
    finally:
        engine.close()


def test_conflicting_pins_in_one_workflow(built, environments, pool, envs):
    installed = [(name, "1.0.0", path, sha256_of(path)) for name, path in built.items()]
    registry = registry_with_packs(installed, environments=environments, pool=pool, strict=True)
    assert "core.PrimitiveInt" in registry or len(registry.packs) >= 3
    result = run_graph(
        registry,
        {"a": ("sixa.Version", {}), "b": ("sixb.Version", {}), "s": ("sixa.Add", {"a": 2, "b": 3})},
        ["a", "b", "s"],
    )
    assert result.status == "succeeded", result.errors
    assert result.outputs["a"] == ("1.16.0",)
    assert result.outputs["b"] == ("1.15.0",)
    assert result.outputs["s"] == (5,)
    # numpy comes from the host layer, six from the pack's own venv
    where = call(pool, envs["sixa"], "Where")[0]
    assert "/_layer-" in where["numpy"] and f"/{envs['sixa'].key}/venv/" in where["six"]
    assert not list(envs["sixa"].venv.glob("lib/python*/site-packages/numpy"))
    # a second run is served from the cache: the key holds the pack name and version
    engine_cache = MemoryCache()
    engine = Engine(registry, engine_cache)
    graph = parse_graph({"nodes": {"a": {"type": "sixa.Version", "inputs": {}}}, "outputs": ["a"]})
    assert engine.run(graph).executed == ["a"]
    assert engine.run(graph).cached == ["a"]
    engine.close()


def test_environment_is_reused_and_verified(built, environments, envs, tmp_path):
    path = built["sixa"]
    ready_mark = envs["sixa"].path / "env.json"
    built_at = ready_mark.stat().st_mtime_ns
    again = environments.ensure(path, sha256_of(path))
    assert again.path == envs["sixa"].path
    assert ready_mark.stat().st_mtime_ns == built_at  # reused as it is, not rebuilt
    assert (
        (again.src / "sixa" / "__init__.py").exists()
        and not os.access(again.src / "flowyard.toml", os.W_OK)
        or os.geteuid() == 0
    )
    with pytest.raises(PackEnvError, match="sha256"):
        environments.ensure(path, "0" * 64)
    # a file whose content differs from its entry in MANIFEST.sha256.json is refused
    tampered = tmp_path / "tampered.flowyard.zip"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(tampered, "w") as out:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "sixa/__init__.py":
                data += b"\nimport os\n"
            out.writestr(info, data)
    with pytest.raises(PackEnvError, match="not a valid pack"):
        environments.ensure(tampered, sha256_of(tampered))


def test_garbage_collection_keeps_what_is_installed(built, tmp_path):
    envs = PackEnvironments(tmp_path / "gc")
    path = built["sixa"]
    env = envs.ensure(path, sha256_of(path))
    assert envs.collect([env]) == []
    with env.in_use():
        assert envs.collect([]) == []  # a running host keeps its environment
    assert envs.collect([]) == [env.key]
    assert envs.find(env.sha256) is None


def test_secrets_never_reach_a_pack(pool, envs):
    env_seen = call(pool, envs["sixa"], "Environ")[0]
    for name, value in SECRETS.items():
        assert name not in env_seen
        assert value not in repr(env_seen)
    assert set(env_seen) <= {
        "PATH", "HOME", "TMPDIR", "LANG", "LC_ALL", "PWD", "PYTHONNOUSERSITE", "PYTHONDONTWRITEBYTECODE",
        "PYTHONHASHSEED", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "TZ",
    }  # fmt: skip
    shell = call(pool, envs["sixa"], "Shell", command="env; echo $SECRET_KEY $DATABASE_URL")[0]
    for value in SECRETS.values():
        assert value not in shell


def test_writes_stay_in_scratch(pool, envs, tmp_path):
    host = pool.host(envs["sixa"])
    relative = call(pool, envs["sixa"], "Write", path="note.txt")[0]
    assert host.scratch is not None and relative == f"written {host.scratch / 'note.txt'}"
    # In the sandbox, scratch is a size-capped tmpfs of the host's own: nothing lands on the disk outside.
    assert (host.scratch / "note.txt").exists() != BWRAP
    targets = [REPO / "PWNED-by-pack.txt", tmp_path / "outside.txt", envs["sixa"].src / "evil.py"]
    for target in targets:
        result = call(pool, envs["sixa"], "Write", path=str(target))[0]
        if BWRAP:
            # Refused, or (for a path under /tmp, e.g. a checkout there) written into the sandbox's private
            # /tmp, which vanishes with it: either way nothing reaches the real file system.
            assert result.startswith("refused") or str(target).startswith("/tmp/"), result
            assert not target.exists()
        target.unlink(missing_ok=True)


@pytest.mark.skipif(not BWRAP, reason="bubblewrap does not work here: reads and network are not confined")
def test_sandbox_hides_files_and_network(pool, envs):
    shell = call(
        pool, envs["sixa"], "Shell", command=f"ls {REPO}; cat {REPO}/var/secret_key; ls /etc; id -u"
    )[0]
    uid = int(next(line for line in shell.splitlines() if line.strip().isdigit()))
    # Never root: a root worker gives each host its own uid, otherwise the namespace's 65534.
    assert uid in range(200000, 201000) if os.geteuid() == 0 else uid == 65534
    assert "No such file" in shell
    assert "flowyard.sqlite3" not in shell and "passwd" not in shell
    assert call(pool, envs["sixa"], "Connect")[0].startswith("refused")


def test_a_crash_fails_the_node_and_the_next_call_works(pool, envs):
    env = envs["sixb"]
    call(pool, env, "Version")
    first_pid = pool.host(env).pid
    with pytest.raises(NodeError, match=r"(?s)exited with code 3.*about to crash"):
        pool.execute(env, "sixb.Crash", {}, Context("c"))
    assert call(pool, env, "Version") == ["1.15.0"]
    assert pool.host(env).pid != first_pid


def test_node_exceptions_come_back_with_their_type(pool, envs):
    with pytest.raises(Exception, match="ValueError: boom") as caught:
        pool.execute(envs["sixa"], "sixa.Fail", {}, Context("f"))
    assert "raise ValueError" in caught.value.remote_traceback  # type: ignore[attr-defined]


def test_cancel_kills_a_node_that_ignores_it(built, environments, pool, envs):
    registry = registry_with_packs(
        [("sixb", "1.0.0", built["sixb"], sha256_of(built["sixb"]))], environments=environments, pool=pool
    )
    cancel = threading.Event()
    threading.Timer(0.5, cancel.set).start()
    # An hour-long node that ignores the cancel: only killing its host ends it (else pytest-timeout would).
    result = run_graph(registry, {"s": ("sixb.Sleep", {"seconds": 3600.0})}, ["s"], cancel=cancel)
    assert result.status == "cancelled"
    assert not pool.host(envs["sixb"]).alive
    assert call(pool, envs["sixb"], "Version") == ["1.15.0"]


def test_polite_cancel_keeps_the_host(pool, envs):
    env = envs["sixa"]
    call(pool, env, "Version")
    pid = pool.host(env).pid
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    from nodepacks.sdk import Cancelled

    with pytest.raises(Cancelled):
        pool.execute(env, "sixa.Sleep", {"seconds": 30.0, "polite": True}, Context("s", cancel_event=cancel))
    assert pool.host(env).pid == pid and pool.host(env).alive


def test_timeout_kills_the_host(pool, envs):
    env = envs["sixa"]
    with pytest.raises(NodeError, match="did not finish within 0.5 s"):
        pool.execute(env, "sixa.Sleep", {"seconds": 30.0}, Context("s"), timeout=0.5)
    assert call(pool, env, "Add", a=1, b=1) == [2]


def test_image_round_trip_through_shared_memory(pool, envs):
    rng = np.random.default_rng(0)
    image = rng.random((2, 256, 384, 3), dtype=np.float32)
    progress: list[tuple[float, float | None, np.ndarray | None]] = []
    ctx = Context(
        "i", on_progress=lambda node, value, total, preview: progress.append((value, total, preview))
    )
    outputs, ui = pool.execute(envs["sixa"], "sixa.Invert", {"image": image}, ctx)
    assert outputs is not None
    assert outputs[0].dtype == np.float32 and np.array_equal(outputs[0], 1.0 - image)
    assert ui is not None and list(ui.text) == ["inverted"]
    assert progress and progress[0][0] == 1
    preview = progress[0][2]
    assert preview is not None and preview.shape == (1, 8, 8, 3)
    echoed = call(
        pool, envs["sixa"], "Echo", value={"f": np.asfortranarray(image[0, :, :, 0]), "n": [1.5, None]}
    )[0]
    assert np.array_equal(echoed["f"], image[0, :, :, 0]) and echoed["n"] == [1.5, None]
    echoed["f"][0, 0] = 7  # received arrays are private copy-on-write mappings
    huge = call(pool, envs["sixa"], "Echo", value="x" * 200_000)[0]
    assert huge == "x" * 200_000


def test_ui_files_come_back_from_the_host(pool, envs):
    # 100 kB goes through the sealed memfd, the 8-byte audio inline as base64.
    outputs, ui = pool.execute(envs["sixa"], "sixa.Clip", {"size": 100_000, "format": "MP4"}, Context("c"))
    assert outputs == [100_000]
    assert ui is not None and ui.saved and ui.filename_prefix == "clip"
    video, audio = ui.files
    assert video == MediaFile(bytes(i % 251 for i in range(100_000)), "mp4", "video")
    assert type(video.data) is bytes
    assert audio == MediaFile(b"RIFF-wav", "wav", "audio")


@pytest.mark.parametrize("bad_format", ["../../etc/x", "", "mp4.exe", "a" * 17])
def test_a_ui_file_format_that_is_not_an_extension_is_refused(pool, envs, bad_format):
    with pytest.raises(NodeError, match="format must be a short extension"):
        pool.execute(envs["sixa"], "sixa.Clip", {"size": 10, "format": bad_format}, Context("c"))
    assert call(pool, envs["sixa"], "Add", a=2, b=3) == [5]  # the host is still fine


def test_files_are_read_through_the_parent(pool, envs):
    class Files:
        def open(self, ref):
            import io

            if ref != "upload/a.txt":
                raise FileNotFoundError(ref)
            return io.BytesIO(b"hello")

        def sha256(self, ref):
            return "abc"

    outputs, _ = pool.execute(
        envs["sixa"], "sixa.ReadUpload", {"ref": "upload/a.txt"}, Context("r", files=Files())
    )
    assert outputs == ["hello:abc"]
    with pytest.raises(Exception, match="FileNotFoundError"):
        pool.execute(envs["sixa"], "sixa.ReadUpload", {"ref": "/etc/passwd"}, Context("r", files=Files()))


@pytest.mark.skipif(not BWRAP, reason="bubblewrap does not work here: the process limit needs its namespaces")
def test_a_fork_bomb_stops_at_the_process_limit(pool, envs):
    limit = pool.limits.processes
    shell = call(
        pool,
        envs["sixa"],
        "Shell",
        command=f"n=0; for i in $(seq 1 {limit * 2}); do sleep 3 & n=$((n+1)); done 2>&1 | tail -1; "
        "echo started $(jobs -p | wc -l)",
    )[0]
    assert "Resource temporarily unavailable" in shell or "fork" in shell.lower(), shell
    # The limit counts the sandbox's own processes: the next call still works.
    assert call(pool, envs["sixa"], "Add", a=1, b=2) == [3]


def test_without_a_working_sandbox_uploaded_packs_are_refused(envs, tmp_path, monkeypatch):
    monkeypatch.setattr(sandbox, "bwrap_probe", lambda: (None, "bubblewrap is not installed"))
    monkeypatch.delenv("FLOWYARD_PACK_SANDBOX", raising=False)
    assert sandbox.status()["mode"] == "unavailable" and sandbox.status()["uploaded_packs"] == "refused"
    with PackHostPool(scratch_root=tmp_path) as hosts, pytest.raises(NodeError) as caught:
        call(hosts, envs["sixa"], "Add", a=1, b=2)
    message = str(caught.value)
    assert "sixa 1.0.0 cannot run on this worker" in message
    assert "bubblewrap is not installed" in message and "insecure-none" in message
    assert not list(tmp_path.glob("packhost-*"))  # nothing was started, nothing left behind


def test_insecure_mode_is_an_explicit_choice_and_says_so(envs, scratch_root, monkeypatch):
    monkeypatch.setenv("FLOWYARD_PACK_SANDBOX", "insecure-none")
    state = sandbox.status()
    assert state == {
        "mode": "insecure-none",
        "secure": False,
        "uploaded_packs": "run unconfined",
        "reason": state["reason"],
    }
    assert "without the sandbox" in str(state["reason"])
    with PackHostPool(scratch_root=scratch_root) as hosts:
        assert call(hosts, envs["sixa"], "Add", a=1, b=2) == [3]
        assert hosts.host(envs["sixa"]).mode == "insecure-none"
    monkeypatch.setenv("FLOWYARD_PACK_SANDBOX", "none")
    assert sandbox.status()["mode"] == "unavailable"  # a typo never turns the sandbox off
    assert "is not a mode" in str(sandbox.status()["reason"])


@pytest.mark.skipif(os.geteuid() != 0, reason="only a root worker switches hosts to uids of their own")
def test_each_live_host_of_a_root_worker_has_its_own_uid():
    first = sandbox.claim_host_identity()
    second = sandbox.claim_host_identity()
    assert first is not None and second is not None
    try:
        assert first.uid != second.uid and 0 not in (first.uid, second.uid)
        first.release()
        third = sandbox.claim_host_identity()
        assert third is not None and third.uid == first.uid  # released uids are reused
        third.release()
    finally:
        first.release()
        second.release()


@pytest.mark.skipif(not BWRAP, reason="bubblewrap does not work here: scratch is then a plain folder")
def test_scratch_is_a_quota_on_all_writes_together(envs, tmp_path):
    limits = HostLimits(scratch_bytes=4 * 1024**2, tmp_bytes=1024**2)
    with PackHostPool(scratch_root=tmp_path, limits=limits) as hosts:
        out = call(
            hosts,
            envs["sixa"],
            "Shell",
            command="for i in 1 2 3; do head -c 2097152 /dev/zero > part$i.bin || echo FULL; done; "
            "head -c 2097152 /dev/zero > /tmp/direct.bin || echo TMPFULL; echo USED=$(du -sk . | cut -f1)",
        )[0]
    assert "No space left on device" in out and "FULL" in out and "TMPFULL" in out, out
    used = next(line for line in out.splitlines() if line.startswith("USED="))
    assert int(used.removeprefix("USED=")) <= 4 * 1024  # KiB: never past the quota


@pytest.mark.skipif(not BWRAP, reason="bubblewrap does not work here")
def test_memory_of_the_host_processes_together_is_limited(envs, tmp_path):
    # Three children of 150 MiB each: every one under the per-process limit, together over the host's.
    limits = HostLimits(memory_bytes=320 * 1024**2, watch_interval=0.05)
    command = (
        "for i in 1 2 3; do python3 -c 'import time; b = bytearray(150 * 2**20); time.sleep(20)' & done; wait"
    )
    with PackHostPool(scratch_root=tmp_path, limits=limits) as hosts:
        with pytest.raises(
            NodeError, match="processes together used .* more than its memory limit of 320 MiB"
        ):
            call(hosts, envs["sixa"], "Shell", command=command)
        assert call(hosts, envs["sixa"], "Add", a=1, b=2) == [3]  # a fresh host took its place
