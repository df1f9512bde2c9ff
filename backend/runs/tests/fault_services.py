"""Services of our own to break: a Redis server and a Postgres cluster on free ports with their own data
directories, which the fault tests and ``benchmarks/faults.py`` kill and restart under running workers.

Redis runs without persistence (``--save ""``, no AOF), so a SIGKILL loses every message it held, as a crashed
or replaced Redis does. Postgres runs from the installed binaries (``/usr/lib/postgresql/<version>/bin``); as
root they run as the ``postgres`` user. Every process is stopped by its PID.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _wait(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


class RedisServer:
    """``redis-server`` on a free port of 127.0.0.1, data in ``root``, no persistence."""

    def __init__(self, root: Path, port: int | None = None) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
        self.binary = binary
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.log = root / "redis.log"

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> RedisServer:
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.root)]
        args += ["--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", str(self.log)]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait(lambda: self._check() or _port_open(self.port), 10, f"redis-server on port {self.port}")
        return self

    def _check(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(
                f"redis-server exited ({self.process.returncode}): {self.log.read_text()[-2000:]}"
            )
        return False

    def kill(self) -> None:
        """SIGKILL: a crash; every message it held is gone."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)
        self.process = None

    def restart(self, down_seconds: float = 0.0) -> None:
        """Kill it, stay down ``down_seconds``, start it again on the same port (empty)."""
        self.kill()
        time.sleep(down_seconds)
        self.start()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
        self.process = None


def postgres_bin() -> Path | None:
    """The newest installed Postgres server binaries, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


class PostgresServer:
    """A Postgres cluster of our own: ``initdb`` into ``root/data``, the server on a free port, its socket in
    ``root``. Durability is off (``fsync=off``): it is restarted to test recovery, not to keep data through a
    machine crash (a crash of the server alone loses nothing: the written WAL is in the OS's page cache)."""

    def __init__(self, root: Path | None = None, port: int | None = None) -> None:
        binaries = postgres_bin()
        if binaries is None:
            raise RuntimeError("no Postgres server binaries under /usr/lib/postgresql/*/bin")
        self.bin = binaries
        # The server's user must reach its directory: pytest's temporary directories are private to root, so
        # by default the cluster gets a directory of its own under the system's temporary folder.
        self.root = root or Path(tempfile.mkdtemp(prefix="flowyard-faults-pg-"))
        self.data = self.root / "data"
        self.port = port or free_port()
        self.log = self.root / "postgres.log"
        self._as_postgres = os.geteuid() == 0
        self.root.mkdir(parents=True, exist_ok=True)
        if self._as_postgres:
            shutil.chown(self.root, "postgres", "postgres")

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        command = [str(self.bin / args[0]), *args[1:]]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, check=False, cwd="/tmp")
        if check and done.returncode != 0:
            output = (done.stdout + done.stderr).decode(errors="replace")[-2000:]
            raise RuntimeError(f"{args[0]} failed ({done.returncode}): {output}")
        return done

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def init(self) -> PostgresServer:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        return self

    def start(self) -> PostgresServer:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        # fsync=off keeps a crash of the server (``immediate``) lossless while the machine lives; never
        # synchronous_commit=off: an immediate stop would lose transactions the workers saw committed.
        options += " -c full_page_writes=off -c max_connections=100"
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "30", "start"
        )
        return self

    def stop(self, mode: str = "fast") -> None:
        """``fast``: a clean shutdown that drops every connection; ``immediate``: a crash (recovery at start)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop", check=False)

    def restart(self, down_seconds: float = 0.0, mode: str = "immediate") -> None:
        self.stop(mode)
        time.sleep(down_seconds)
        self.start()

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def running(self) -> bool:
        return self._run("pg_ctl", "-D", str(self.data), "status", check=False).returncode == 0

    def destroy(self) -> None:
        with contextlib.suppress(Exception):
            if self.data.exists():
                self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


# --- a whole stack on them -------------------------------------------------------------------------------------

REPO = Path(__file__).resolve().parents[3]
TERMINAL = ("succeeded", "failed", "cancelled")


def slow_graph(seed: int, first_steps: int = 20, second_steps: int = 40, step_seconds: float = 0.05) -> dict:
    """Two slow nodes in a chain and a Show whose text is ``value <seed + first_steps + second_steps>``; ``seed``
    makes the cache keys new."""
    return {
        "nodes": {
            "1": {"type": "test.Slow", "inputs": {"value": seed, "steps": first_steps, "step_seconds": 0.03}},
            "2": {
                "type": "test.Slow",
                "inputs": {"value": ["1", 0], "steps": second_steps, "step_seconds": step_seconds},
            },
            "show": {"type": "test.Show", "inputs": {"value": ["2", 0]}},
        }
    }


def _submit_main() -> None:
    """In a Django subprocess: create the user if needed and submit each graph read from stdin (JSON
    ``{"user": name, "graphs": [...], "token": bool}``); print the run ids as a JSON list, or with ``token``
    ``{"ids": [...], "token": a new API token of the user, "workspace": its personal workspace's id}``."""
    import json
    import sys

    import django

    django.setup()
    from django.contrib.auth import get_user_model

    from backend.accounts.actions import do_create_token, do_create_user, do_ensure_personal_workspace
    from backend.runs.actions import do_create_run

    spec = json.load(sys.stdin)
    user = get_user_model().objects.filter(username=spec["user"]).first() or do_create_user(
        spec["user"], None
    )
    workspace = do_ensure_personal_workspace(user)
    ids = [str(do_create_run(user, workspace=workspace, graph=graph).pk) for graph in spec["graphs"]]
    if spec.get("token"):
        _, raw = do_create_token(user, "fault-tests")
        print(json.dumps({"ids": ids, "token": raw, "workspace": workspace.pk}), flush=True)
    else:
        print(json.dumps(ids), flush=True)


class FaultStack:
    """Our own Postgres (a migrated database) and Redis, Celery workers on them, runs submitted by a Django
    subprocess as the web process would, and the truth read back from Postgres with psycopg."""

    def __init__(self, root: Path, **env: str) -> None:
        from backend.runs.tests.services import PYTHON, service_env

        self.python = PYTHON
        self.root = root
        self.workers: dict[str, Any] = {}
        self.web: Any = None
        self.web_port = 0
        self.postgres = PostgresServer()
        self.redis = RedisServer(root / "redis").start()
        try:
            self.postgres.init().start()
            self.database_url = self.postgres.create_database("flowyard_faults")
        except BaseException:
            self.redis.stop()
            self.postgres.destroy()
            raise
        settings = {
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis.url(0),
            "SECRET_KEY": "fault-tests",
            "FLOWYARD_DISPATCHER": "celery",
            "FLOWYARD_BLOB_DIR": str(root / "blobs"),
            "FLOWYARD_VAR_DIR": str(root / "var"),
            "FLOWYARD_NODE_PACKS": "nodepacks.core,backend.runs.tests.testpack",
            "FLOWYARD_PARALLELISM": "2",
            # Short thresholds, so that a fault is noticed in seconds (``env`` may give others).
            "FLOWYARD_WORKER_HEARTBEAT_SECONDS": "0.5",
            "FLOWYARD_WORKER_LOST_SECONDS": "3",
            "FLOWYARD_SWEEP_SECONDS": "0.5",
            "FLOWYARD_DISPATCH_GRACE_SECONDS": "2",
            "FLOWYARD_DB_RETRY_SECONDS": "60",
            "FLOWYARD_MAX_RUNNING_PER_USER": "8",
            "FLOWYARD_MAX_RUNNING_PER_WORKSPACE": "8",
            "FLOWYARD_PACK_IMPORT_CHECK": "false",
            "MODELSCOPE_CACHE": str(root / "models"),
            "LOG_LEVEL": "INFO",
        }
        self.env = service_env(**{**settings, **env})
        for key in ("FLOWYARD_TEST_REDIS_URL",):
            self.env.pop(key, None)
        try:
            subprocess.run(
                [self.python, "manage.py", "migrate", "--noinput", "-v", "0"],
                cwd=REPO,
                env=self.env,
                check=True,
            )
        except BaseException:
            self.close()
            raise

    def start_worker(self, name: str, concurrency: int = 1, queues: str = "flowyard.cpu"):
        """A Celery worker node ``<name>@127.0.0.1`` consuming ``queues``; returns its Process (``wait_ready``
        waits for it)."""
        from backend.runs.tests.services import Process

        args = [self.python, "-m", "celery", "-A", "backend", "worker", "-Q", queues]
        args += ["-c", str(concurrency), "-n", f"{name}@127.0.0.1", "--without-gossip", "--without-mingle"]
        args += ["--loglevel=INFO"]
        process = Process(args, self.env, self.root / f"{name}.log")
        self.workers[name] = process
        return process

    def wait_ready(self, timeout: float = 60) -> None:
        for name, process in self.workers.items():
            _wait(lambda p=process: p.check_alive() or "ready." in p.output(), timeout, f"worker {name}")

    def start_web(self) -> str:
        """The web process (uvicorn, as served) on these services and a free port; returns its base URL at
        once (``wait_web`` waits until it listens), so that it starts while the test does something else."""
        from backend.runs.tests.services import Process

        port = free_port()
        args = [self.python, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(port), "--lifespan", "off",
                "--no-access-log", "backend.asgi:application"]  # fmt: skip
        self.web = Process(args, {**self.env, "ALLOWED_HOSTS": "127.0.0.1"}, self.root / "web.log")
        self.web_port = port
        return f"http://127.0.0.1:{port}"

    def wait_web(self, timeout: float = 60) -> None:
        _wait(lambda: self.web.check_alive() or _port_open(self.web_port), timeout, "the web process")

    def submit(self, graphs: list[dict], user: str = "fault-user") -> list[str]:
        return self._submit({"user": user, "graphs": graphs})

    def submit_with_token(self, graphs: list[dict], user: str = "fault-user") -> tuple[list[str], str, int]:
        """``submit``, and a new API token of ``user`` and its workspace's id, for calls to the web process."""
        answer = self._submit({"user": user, "graphs": graphs, "token": True})
        return answer["ids"], answer["token"], answer["workspace"]

    def _submit(self, spec: dict) -> Any:
        import json

        done = subprocess.run(
            [self.python, "-c", "from backend.runs.tests.fault_services import _submit_main; _submit_main()"],
            input=json.dumps(spec).encode(),
            capture_output=True,
            cwd=REPO,
            env=self.env,
            check=False,
            timeout=120,
        )
        if done.returncode != 0:
            raise RuntimeError(f"submitting failed: {done.stderr.decode()[-3000:]}")
        return json.loads(done.stdout.decode().strip().splitlines()[-1])

    def query(self, sql: str, params: list | tuple = ()) -> list[tuple]:
        import psycopg

        with psycopg.connect(self.database_url, connect_timeout=2) as conn:
            return conn.execute(sql, params).fetchall()

    def runs(self, ids: list[str]) -> dict[str, tuple]:
        """{id: (status, attempts, last_seq, worker, error)}."""
        rows = self.query(
            "SELECT id::text, status, attempts, last_seq, worker, error FROM runs_run WHERE id::text = ANY(%s)",
            [ids],
        )
        return {row[0]: row[1:] for row in rows}

    def wait_finished(self, ids: list[str], timeout: float) -> dict[str, tuple]:
        deadline = time.monotonic() + timeout
        while True:
            try:
                runs = self.runs(ids)
            except Exception:  # the database may be restarting
                runs = {}
            if len(runs) == len(ids) and all(run[0] in TERMINAL for run in runs.values()):
                return runs
            if time.monotonic() > deadline:
                raise AssertionError(f"runs not finished after {timeout} s: {runs}")
            time.sleep(0.1)

    def events(self, run_id: str) -> list[tuple]:
        """[(seq, type, data)] in seq order."""
        return self.query(
            "SELECT seq, type, data FROM runs_runevent WHERE run_id::text = %s ORDER BY seq", [run_id]
        )

    def executing(self, ids: list[str], steps: int) -> int:
        """How many of the runs are executing a node of ``steps`` progress steps now: its progress is stored and
        the run has not finished."""
        sql = (
            "SELECT count(DISTINCT e.run_id) FROM runs_runevent e WHERE e.run_id::text = ANY(%s)"
            " AND e.type = 'progress' AND (e.data->>'max')::numeric = %s AND NOT EXISTS (SELECT 1 FROM runs_runevent f"
            " WHERE f.run_id = e.run_id AND f.type = 'run_finished')"
        )
        return self.query(sql, [ids, steps])[0][0]

    def shown(self, run_id: str) -> list[str]:
        """The texts the run's Show node produced."""
        rows = self.query(
            "SELECT text FROM runs_runoutput WHERE run_id::text = %s AND kind = 'text' ORDER BY \"index\"",
            [run_id],
        )
        return [row[0] for row in rows]

    def holding_slots(self) -> int:
        """Runs that hold a fair-use slot now (running, or queued and handed to the dispatcher)."""
        sql = "SELECT count(*) FROM runs_run WHERE status = 'running' OR (status = 'queued' AND dispatched IS NOT NULL)"
        return self.query(sql)[0][0]

    def worker_statuses(self) -> dict[str, str]:
        """{registry name: status} of every worker that registered."""
        return dict(self.query("SELECT name, status FROM workers_registry_worker"))

    def queued_messages(self) -> int:
        import redis

        client = redis.Redis.from_url(self.redis.url(0))
        try:
            return int(client.llen("flowyard.cpu"))
        finally:
            client.close()

    def close(self) -> None:
        if self.web is not None:
            self.web.stop()
            self.web = None
        for process in self.workers.values():
            if process.popen.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        for process in self.workers.values():
            process.stop()
        self.redis.stop()
        self.postgres.destroy()


def pool_child(worker_field: str) -> int | None:
    """The pid of the pool process a run's ``worker`` names (``name:pid/child``), if any."""
    if "/" not in worker_field:
        return None
    child = worker_field.rsplit("/", 1)[1]
    return int(child) if child.isdigit() else None
