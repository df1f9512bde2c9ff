"""Static scan of a pack's files for reviewers: what the code could do that a node should not need.

Python files are parsed with ``ast`` (never imported); other files are judged by name and magic bytes.
Each finding names the rule, the file and line, the code, and explains the risk in plain words. A pack
with any high-severity finding is *flagged*: the registry holds it for a human reviewer.
"""

from __future__ import annotations

import ast
import math
import re
from collections import Counter
from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel

Severity = Literal["high", "medium", "low"]

RULES: dict[str, tuple[Severity, str]] = {
    "exec-eval": (
        "high",
        "Runs code built at run time (exec/eval/compile): what runs cannot be reviewed, the classic way "
        "to hide a payload.",
    ),
    "dynamic-import": (
        "high",
        "Imports a module whose name is computed at run time, which hides what the code really uses.",
    ),
    "process-spawn": (
        "high",
        "Starts other programs (subprocess, os.system, os.exec*, pty): a node can then do anything the "
        "worker's user can, outside Flowyard's control.",
    ),
    "shell-command": ("high", "Contains a shell command line; nodes have no reason to drive a shell."),
    "raw-socket": ("high", "Opens raw network sockets: data can be sent anywhere, bypassing any proxy."),
    "native-code": (
        "high",
        "Loads native code (ctypes/cffi) that the scanner cannot read and that can bypass every check.",
    ),
    "runtime-install": (
        "high",
        "Installs packages at run time (pip/uv/ensurepip). Dependencies must be pinned in flowyard.toml; "
        "installing at run time can replace packages other nodes rely on, torch included.",
    ),
    "env-secret": (
        "high",
        "Reads credentials from the environment (or the whole environment): the pattern of credential "
        "stealers. Nodes receive what they need through inputs and ctx, never from env vars.",
    ),
    "env-access": (
        "medium",
        "Reads an environment variable. Packs should take configuration as node inputs; check that "
        "nothing secret is read.",
    ),
    "credential-file": (
        "high",
        "Names a file where credentials live (ssh keys, cloud or browser credentials).",
    ),
    "obfuscation": (
        "high",
        "Decodes hidden code (rot13, marshal): there is no legitimate reason for a node to do this.",
    ),
    "encoded-blob": (
        "medium",
        "A long base64/hex or high-entropy literal: possibly an encoded payload. Data belongs in files "
        "the reviewer can inspect, models on ModelScope.",
    ),
    "unsafe-deserialization": (
        "medium",
        "Loads pickle data, which executes code when loaded; use JSON, numpy or safetensors.",
    ),
    "network": (
        "medium",
        "Uses a network library. Nodes should get models via ctx.models and files via inputs; check "
        "what is fetched or sent.",
    ),
    "dynamic-lookup": (
        "medium",
        "Reaches builtins dynamically (builtins, __builtins__, globals()), a way to call exec/eval "
        "without naming them.",
    ),
    "binary-code": (
        "high",
        "Compiled code (.so/.dll/.exe/.pyc or an executable's magic bytes) cannot be reviewed; ship "
        "source only.",
    ),
    "startup-hook": ("high", "A .pth file runs code whenever Python starts in an environment that holds it."),
    "unparseable": ("high", "A Python file that does not parse cannot be reviewed."),
    "import-time-code": (
        "medium",
        "Does work when the module is imported (a call or loop at module level), before any node runs: "
        "code that runs on import runs wherever the pack is loaded. Declarations (imports, classes, "
        "functions, constants, pack = Pack(...)) are not reported.",
    ),
    "import-path": (
        "medium",
        "Changes sys.path: modules in the folders it adds can shadow the standard library or the host's "
        "packages for the whole host.",
    ),
    "write-outside": (
        "medium",
        "Writes to an absolute path or one with '..': a node may write only in its scratch folder (the "
        "current directory) and return files through its outputs.",
    ),
    "endless-loop": (
        "low",
        "A `while True` loop with no break or return: it ends only by an exception or never; the "
        "run's time limit stops it, check that it is meant.",
    ),
    "script-file": (
        "medium",
        "A shell or install script; Flowyard never runs these, so check why it is here.",
    ),
}

_NETWORK_MODULES = frozenset(
    {"requests", "urllib", "urllib3", "httpx", "aiohttp", "http", "ftplib", "smtplib", "telnetlib"}
    | {"websocket", "websockets", "paramiko", "pycurl", "xmlrpc", "socketserver", "grpc", "boto3"}
)
_IMPORT_RULES: dict[str, str] = {
    "subprocess": "process-spawn",
    "pty": "process-spawn",
    "socket": "raw-socket",
    "_socket": "raw-socket",
    "ctypes": "native-code",
    "_ctypes": "native-code",
    "cffi": "native-code",
    "pip": "runtime-install",
    "ensurepip": "runtime-install",
    "uv": "runtime-install",
    "builtins": "dynamic-lookup",
    "marshal": "obfuscation",
}
_EXEC_CALLS = frozenset({"exec", "eval", "compile", "builtins.exec", "builtins.eval", "builtins.compile"})
_EXEC_CALLS |= {"types.CodeType", "types.FunctionType", "execfile"}
_IMPORT_CALLS = frozenset(
    {"__import__", "importlib.import_module", "importlib.__import__", "builtins.__import__"}
)
_SPAWN_PREFIXES = ("subprocess.", "pty.", "os.exec", "os.spawn", "os.posix_spawn", "commands.")
_SPAWN_CALLS = frozenset(
    {"os.system", "os.popen", "os.fork", "os.forkpty", "asyncio.create_subprocess_exec"}
    | {"asyncio.create_subprocess_shell", "platform.popen", "multiprocessing.Process"}
)
_ENV_CALLS = frozenset({"os.getenv", "os.getenvb", "os.putenv", "os.unsetenv", "posix.getenv"})
_PICKLE_CALLS = frozenset({"pickle.load", "pickle.loads", "dill.load", "dill.loads", "cloudpickle.loads"})
_PICKLE_CALLS |= {"pickle.Unpickler", "joblib.load", "torch.load"}
_SECRET_NAME = re.compile(
    r"SECRET|TOKEN|PASSW|PASSWD|KEY|CREDENTIAL|AUTH|SESSION|COOKIE|PRIVATE|AWS_|GCP|AZURE"
)
_INSTALL_TEXT = re.compile(
    r"\bpip3?(\.exe)?\s+install\b|-m\s+pip\b|\buv\s+(pip|add|sync|tool)\b|\bensurepip\b|\bconda\s+install\b"
)
_SHELL_TEXT = re.compile(
    r"\b(sh|bash|zsh|dash|cmd(\.exe)?|powershell(\.exe)?|pwsh)\s+(-c|/c|-enc|-Command)\b"
    r"|/bin/(ba|z|da)?sh\b|\bcurl\s+\S|\bwget\s+\S|\bnc\s+-e\b|\bchmod\s+\+x\b"
)
_CREDENTIAL_TEXT = re.compile(
    r"\.aws/credentials|\.ssh/|\bid_(rsa|ed25519|ecdsa)\b|\.netrc\b|\.pypirc\b|\.git-credentials"
    r"|\.docker/config\.json|\.kube/config|\.config/gcloud|\.config/flowyard|\.huggingface/token"
    r"|Login Data|Local State|Cookies\b|wallet\.dat|keychain",
    re.IGNORECASE,
)
_BASE64 = re.compile(r"^[A-Za-z0-9+/_\-\s]+={0,2}\s*$")
_HEX = re.compile(r"^(0x)?[0-9a-fA-F\s]+$")
_BLOB_LENGTH = 200
_ENTROPY_LENGTH = 120
_ENTROPY_BITS = 4.8

_BINARY_SUFFIXES = (".so", ".pyd", ".dll", ".dylib", ".exe", ".pyc", ".pyo", ".o", ".a", ".lib", ".elf")
_SCRIPT_SUFFIXES = (".sh", ".bash", ".bat", ".cmd", ".ps1", ".vbs")
_SCRIPT_NAMES = frozenset({"install.py", "setup.py", "prestartup_script.py", "requirements.txt"})
_MAGIC = (b"\x7fELF", b"MZ", b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe", b"\xca\xfe\xba\xbe", b"\xfe\xed\xfa")


class Finding(BaseModel):
    """One static-scan result for a reviewer."""

    rule: str
    severity: Severity
    file: str
    line: int | None = None
    snippet: str = ""
    explanation: str


def make_finding(
    rule: str, file: str, line: int | None = None, snippet: str = "", detail: str = ""
) -> Finding:
    """A finding for ``rule`` with its standard severity and explanation (plus an optional detail)."""
    severity, explanation = RULES[rule]
    return Finding(
        rule=rule,
        severity=severity,
        file=file,
        line=line,
        snippet=snippet.strip()[:200],
        explanation=f"{detail} {explanation}".strip() if detail else explanation,
    )


def entropy(text: str) -> float:
    """Shannon entropy in bits per character."""
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


class _Visitor(ast.NodeVisitor):
    def __init__(self, path: str, source: str) -> None:
        self.path = path
        self.lines = source.splitlines()
        self.aliases: dict[str, str] = {}
        self.findings: list[Finding] = []
        self.parents: dict[int, ast.AST] = {}

    def add(self, rule: str, node: ast.AST, detail: str = "") -> None:
        line = getattr(node, "lineno", None)
        snippet = self.lines[line - 1] if line and line <= len(self.lines) else ""
        self.findings.append(make_finding(rule, self.path, line, snippet, detail))

    def qualname(self, node: ast.AST) -> str | None:
        """The dotted name an expression refers to, through import aliases (``sp.run`` -> ``subprocess.run``)."""
        if isinstance(node, ast.Name):
            return self.aliases.get(node.id, node.id)
        if isinstance(node, ast.Attribute):
            base = self.qualname(node.value)
            return f"{base}.{node.attr}" if base else None
        return None

    def visit(self, node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            self.parents[id(child)] = node
        super().visit(node)

    def _check_module(self, module: str, node: ast.AST) -> None:
        top = module.split(".")[0]
        if module.startswith("pip.") or module in _IMPORT_RULES:
            self.add(_IMPORT_RULES.get(module, "runtime-install"), node, f"Imports {module}.")
        elif top in _IMPORT_RULES and top not in ("builtins",):
            self.add(_IMPORT_RULES[top], node, f"Imports {module}.")
        elif top in _NETWORK_MODULES:
            self.add("network", node, f"Imports {module}.")

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.asname:
                self.aliases[alias.asname] = alias.name
            else:
                top = alias.name.split(".")[0]
                self.aliases[top] = top
            self._check_module(alias.name, node)
        self.generic_visit(node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level == 0 and node.module:
            self._check_module(node.module, node)
            for alias in node.names:
                self.aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
                if node.module == "os" and alias.name.startswith(("system", "popen", "exec", "spawn")):
                    self.add("process-spawn", node, f"Imports {node.module}.{alias.name}.")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        name = self.qualname(node.func) or ""
        first = node.args[0] if node.args else None
        if name in _EXEC_CALLS:
            decoded = any(
                isinstance(sub, ast.Call) and "decode" in (self.qualname(sub.func) or "").lower()
                for sub in ast.walk(node)
            )
            self.add("exec-eval", node, f"Calls {name}()" + (" on decoded data." if decoded else "."))
        elif name in _IMPORT_CALLS and not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
            self.add("dynamic-import", node, f"Calls {name}() with a computed name.")
        elif name in _SPAWN_CALLS or name.startswith(_SPAWN_PREFIXES):
            shell = any(k.arg == "shell" and not _is_false(k.value) for k in node.keywords)
            self.add("process-spawn", node, f"Calls {name}()" + (" with shell=True." if shell else "."))
        elif name in _ENV_CALLS:
            self._env_finding(node, first)
        elif name in ("codecs.decode", "codecs.encode", "codecs.getdecoder", "codecs.lookup") and any(
            isinstance(arg, ast.Constant) and isinstance(arg.value, str) and "rot" in arg.value.lower()
            for arg in [*node.args, *(k.value for k in node.keywords)]
        ):
            self.add("obfuscation", node, "Decodes rot13 text.")
        elif name in ("marshal.loads", "marshal.load"):
            self.add("obfuscation", node, "Loads marshalled bytecode.")
        elif name in _PICKLE_CALLS and not any(
            k.arg == "weights_only" and not _is_false(k.value) for k in node.keywords
        ):
            self.add("unsafe-deserialization", node, f"Calls {name}().")
        elif name in ("globals", "vars", "locals") and isinstance(self.parents.get(id(node)), ast.Subscript):
            self.add("dynamic-lookup", node, f"Indexes {name}().")
        elif name in ("getattr", "setattr") and first is not None and self.qualname(first) in _BUILTIN_NAMES:
            self.add("dynamic-lookup", node, f"Calls {name}() on builtins.")
        elif name in _PATH_CALLS:
            self.add("import-path", node, f"Calls {name}().")
        else:
            self._check_write(node, name)
        self.generic_visit(node)

    def _check_write(self, node: ast.Call, name: str) -> None:
        """``open('/etc/x', 'w')``, ``Path('../x').write_text(...)``, ``Path('/x').open('a')``."""
        func = node.func
        if name in _OPEN_CALLS:
            target, mode = (node.args[0] if node.args else None), _argument(node, 1, "mode")
        elif isinstance(func, ast.Attribute) and func.attr in ("write_text", "write_bytes"):
            target, mode = func.value, ast.Constant("w")
        elif isinstance(func, ast.Attribute) and func.attr == "open":
            target, mode = func.value, _argument(node, 0, "mode")
        else:
            return
        if not (
            isinstance(mode, ast.Constant) and isinstance(mode.value, str) and set(mode.value) & set("wax+")
        ):
            return  # reading, or a mode computed at run time
        path = self._path_text(target)
        if path and (path.startswith(("/", "~", "\\")) or ".." in re.split(r"[/\\]", path)):
            self.add("write-outside", node, f"Writes to {path.replace(_UNKNOWN, '...')!r}.")

    def _path_text(self, node: ast.AST | None) -> str:
        """A path expression as text, with what is computed at run time as ``_UNKNOWN``."""
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.JoinedStr):
            return "".join(
                v.value if isinstance(v, ast.Constant) and isinstance(v.value, str) else _UNKNOWN
                for v in node.values
            )
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            return self._path_text(node.left) + self._path_text(node.right)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            return f"{self._path_text(node.left)}/{self._path_text(node.right)}"
        if isinstance(node, ast.Call) and (self.qualname(node.func) or "") in _PATH_BUILDERS and node.args:
            return "/".join(self._path_text(arg) for arg in node.args)
        return _UNKNOWN

    def visit_While(self, node: ast.While) -> None:
        if isinstance(node.test, ast.Constant) and node.test.value and not _exits(node.body):
            self.add("endless-loop", node, "A `while True` loop never breaks or returns.")
        self.generic_visit(node)

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            base = target.value if isinstance(target, ast.Subscript) else target
            if self.qualname(base) == "sys.path":
                self.add("import-path", node, "Replaces sys.path.")
        self.generic_visit(node)

    def _env_finding(self, node: ast.AST, key: ast.AST | None) -> None:
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            if _SECRET_NAME.search(key.value.upper()):
                self.add("env-secret", node, f"Reads the environment variable {key.value}.")
            else:
                self.add("env-access", node, f"Reads the environment variable {key.value}.")
        elif key is None:
            self.add("env-secret", node, "Reads the whole environment.")
        else:
            self.add("env-secret", node, "Reads an environment variable whose name is computed.")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if self.qualname(node) in ("os.environ", "os.environb", "posix.environ"):
            self._environ_use(node)
            return
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if node.id in self.aliases and self.aliases[node.id] in ("os.environ", "os.environb"):
            self._environ_use(node)
        elif node.id in _BUILTIN_NAMES and node.id not in self.aliases:
            self.add("dynamic-lookup", node, f"Uses {node.id}.")

    def _environ_use(self, node: ast.AST) -> None:
        """``os.environ[...]``, ``os.environ.get(...)`` name a key; anything else reads everything."""
        parent = self.parents.get(id(node))
        if isinstance(parent, ast.Subscript) and parent.value is node:
            self._env_finding(parent, parent.slice)
        elif isinstance(parent, ast.Attribute) and parent.attr in ("get", "pop", "setdefault", "__getitem__"):
            call = self.parents.get(id(parent))
            key = call.args[0] if isinstance(call, ast.Call) and call.args else None
            self._env_finding(call or parent, key if key is not None else ast.Name(id="?"))
        else:
            self._env_finding(node, None)

    def visit_List(self, node: ast.List | ast.Tuple) -> None:
        """``[sys.executable, "-m", "pip", "install", ...]``: an install command as an argument list."""
        words = {
            elt.value for elt in node.elts if isinstance(elt, ast.Constant) and isinstance(elt.value, str)
        }
        if words & {"pip", "pip3", "uv", "ensurepip", "conda"} and words & {"install", "-m", "add", "sync"}:
            self.add("runtime-install", node, "An argument list runs an installer.")
        self.generic_visit(node)

    visit_Tuple = visit_List

    def visit_Constant(self, node: ast.Constant) -> None:
        value = node.value
        if isinstance(value, bytes):
            text = value.decode("latin-1")
        elif isinstance(value, str):
            text = value
        else:
            return
        if _INSTALL_TEXT.search(text):
            self.add("runtime-install", node, "A string holds an install command.")
        if _SHELL_TEXT.search(text):
            self.add("shell-command", node, "A string holds a shell command.")
        if _CREDENTIAL_TEXT.search(text):
            self.add("credential-file", node, "A string names a credential location.")
        compact = re.sub(r"\s+", "", text)
        if len(compact) >= _BLOB_LENGTH and (_HEX.match(compact) or _BASE64.match(compact)):
            kind = "hex" if _HEX.match(compact) else "base64"
            self.add("encoded-blob", node, f"A {len(compact)}-character {kind} literal.")
        elif (
            len(compact) >= _ENTROPY_LENGTH
            and text.count(" ") < len(text) / 50
            and entropy(compact) >= _ENTROPY_BITS
        ):
            # Prose (docstrings) has spaces; an encoded payload has almost none.
            self.add("encoded-blob", node, f"A {len(compact)}-character literal of high entropy.")


_BUILTIN_NAMES = frozenset({"__builtins__", "builtins"})
_PATH_CALLS = frozenset(
    {"sys.path.insert", "sys.path.append", "sys.path.extend", "site.addsitedir", "sys.path.__setitem__"}
)
_UNKNOWN = "\0"
_OPEN_CALLS = frozenset({"open", "io.open", "builtins.open", "codecs.open", "os.fdopen"})
_PATH_BUILDERS = frozenset(
    {"pathlib.Path", "pathlib.PurePath", "pathlib.PosixPath", "os.path.join", "posixpath.join"}
)
# Calls that are declarations, not work, at module level: the SDK, logging, typing, compiled patterns...
_DECLARATION_CALLS = frozenset(
    {"logging.getLogger", "typing.TypeVar", "typing.NewType", "typing.ParamSpec", "typing.cast"}
    | {"typing_extensions.TypeVar", "collections.namedtuple", "typing.NamedTuple", "re.compile"}
    | {"dataclasses.field", "frozenset", "set", "tuple", "list", "dict", "range", "len", "sorted", "str"}
    | {"int", "float", "bool", "bytes", "object", "enumerate", "zip", "TypeVar", "NewType", "namedtuple"}
    | {"pathlib.Path", "os.path.dirname", "os.path.join", "os.path.abspath", "os.path.realpath"}
)
_DECLARATION_PREFIXES = ("nodepacks.sdk.", "typing.", "enum.", "os.path.", "pathlib.Path.")


def _argument(node: ast.Call, position: int, keyword: str) -> ast.expr | None:
    if len(node.args) > position:
        return node.args[position]
    return next((k.value for k in node.keywords if k.arg == keyword), None)


def _exits(body: list[ast.stmt]) -> bool:
    """True when ``body`` holds a break or return for its own loop (not one of a nested loop or function)."""
    stack: list[ast.AST] = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Break, ast.Return)):
            return True
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        if isinstance(node, (ast.For, ast.AsyncFor, ast.While)):
            # A break in a nested loop ends that loop; a return there still leaves ours.
            stack.extend(n for n in ast.walk(node) if isinstance(n, ast.Return))
            continue
        stack.extend(ast.iter_child_nodes(node))
    return False


def _import_time_findings(tree: ast.Module, visitor: _Visitor) -> list[Finding]:
    """Module-level statements that do work when the module is imported (one finding per statement)."""
    found: list[Finding] = []

    def work(expr: ast.AST | None) -> str:
        """What ``expr`` calls at import ('' when it only declares)."""
        stack = [expr] if expr is not None else []
        while stack:
            node = stack.pop()
            if isinstance(node, ast.Lambda):
                continue  # defined, not run
            if isinstance(node, (ast.Await, ast.Yield, ast.YieldFrom)):
                return "awaits"
            if isinstance(node, ast.Call):
                name = visitor.qualname(node.func) or ""
                if name not in _DECLARATION_CALLS and not name.startswith(_DECLARATION_PREFIXES):
                    return f"calls {name or 'a computed function'}()"
            stack.extend(ast.iter_child_nodes(node))
        return ""

    def report(statement: ast.stmt, what: str) -> None:
        line = statement.lineno
        snippet = visitor.lines[line - 1] if line <= len(visitor.lines) else ""
        found.append(make_finding("import-time-code", visitor.path, line, snippet, what))

    def walk(statements: list[ast.stmt]) -> None:
        for statement in statements:
            if isinstance(statement, (ast.Import, ast.ImportFrom, ast.Pass, ast.Global, ast.Nonlocal)):
                continue
            if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue  # decorators and class bodies are declarations
            if isinstance(statement, ast.If):
                if _is_main_guard(statement.test):
                    walk(statement.orelse)
                    continue
                if what := work(statement.test):
                    report(statement, f"A module-level condition {what}.")
                walk(statement.body)
                walk(statement.orelse)
            elif isinstance(statement, ast.Try | ast.TryStar):
                walk(statement.body)
                for handler in statement.handlers:
                    walk(handler.body)
                walk(statement.orelse)
                walk(statement.finalbody)
            elif isinstance(statement, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                if what := work(statement.value):
                    report(statement, f"A module-level assignment {what}.")
            elif isinstance(statement, ast.Expr):
                if what := work(statement.value):
                    report(statement, f"A module-level statement {what}.")
            elif isinstance(statement, (ast.Assert, ast.Delete)):
                continue
            else:  # for, while, with, match, raise...
                report(statement, f"A module-level `{type(statement).__name__.lower()}` statement.")

    walk(tree.body)
    return found


def _is_main_guard(test: ast.expr) -> bool:
    return (
        isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == "__name__"
        and any(isinstance(c, ast.Constant) and c.value == "__main__" for c in test.comparators)
    )


def _is_false(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and not node.value


def scan_python(path: str, source: str) -> list[Finding]:
    """Scan one Python source file; never executes it."""
    try:
        tree = ast.parse(source, filename=path)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        line = getattr(exc, "lineno", None)
        return [make_finding("unparseable", path, line, "", f"Does not parse ({type(exc).__name__}: {exc}).")]
    visitor = _Visitor(path, source)
    try:
        visitor.visit(tree)
    except RecursionError:
        return [make_finding("unparseable", path, None, "", "Nested too deeply to scan.")]
    return _dedupe(visitor.findings + _import_time_findings(tree, visitor))


def scan_file(path: str, data: bytes, max_py_bytes: int = 2 * 1024 * 1024) -> list[Finding]:
    """Scan one file of a pack by name, magic bytes and (for .py) source."""
    name = path.rsplit("/", 1)[-1].lower()
    findings: list[Finding] = []
    if name.endswith(_BINARY_SUFFIXES) or data.startswith(_MAGIC) and not name.endswith((".png", ".jpg")):
        findings.append(make_finding("binary-code", path, detail=f"{path} is compiled code."))
    elif name.endswith(".pth"):
        findings.append(make_finding("startup-hook", path))
    elif name.endswith(_SCRIPT_SUFFIXES) or name in _SCRIPT_NAMES:
        findings.append(make_finding("script-file", path, detail=f"{path}:"))
    if name.endswith((".py", ".pyw", ".pyi")):
        if len(data) > max_py_bytes:
            findings.append(
                make_finding("unparseable", path, detail=f"Larger than {max_py_bytes} bytes: not scanned.")
            )
            return findings
        try:
            source = data.decode("utf-8")
        except UnicodeDecodeError:
            return [*findings, make_finding("unparseable", path, detail="Not UTF-8.")]
        findings.extend(scan_python(path, source))
    return findings


def scan_files(files: Iterable[tuple[str, bytes]], max_py_bytes: int = 2 * 1024 * 1024) -> list[Finding]:
    """Scan every (path, content) pair; findings sorted by severity, then file and line."""
    findings = [finding for path, data in files for finding in scan_file(path, data, max_py_bytes)]
    order = {"high": 0, "medium": 1, "low": 2}
    return sorted(findings, key=lambda f: (order[f.severity], f.file, f.line or 0, f.rule))


def is_flagged(findings: Iterable[Finding]) -> bool:
    """True when any finding is high severity: the pack needs a human reviewer."""
    return any(finding.severity == "high" for finding in findings)


def _dedupe(findings: list[Finding]) -> list[Finding]:
    seen: set[tuple[str, int | None]] = set()
    unique = []
    for finding in findings:
        key = (finding.rule, finding.line)
        if key not in seen:
            seen.add(key)
            unique.append(finding)
    return unique
