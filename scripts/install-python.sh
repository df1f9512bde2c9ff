#!/usr/bin/env bash
# Install Flowyard's Python dependencies into $VENV (default .venv) from the committed uv.lock, with uv.
#
#   scripts/install-python.sh            the runtime only (make run, make worker): no test tools, no torch
#   scripts/install-python.sh dev        the dev extra (make test, make bench): tools, test data and models
#   scripts/install-python.sh models     the models extra (torch, diffusers...) on top of the runtime
#
# uv comes from the venv when it is there, else it is bootstrapped from the package index with pip (the version
# uv.lock pins), else a uv on PATH is used. The lockfile is installed as an exported, hash-pinned requirements
# list with `uv pip install`, so indexes configured for pip on this machine (a local mirror or wheel directory in
# pip.conf or PIP_* variables) serve the same files, checked against the lock's hashes, before PyPI does: uv
# does not read pip's configuration, and `uv sync` would download every file from the lock's own URLs.
# Packages are added, never removed: `make run` after `make test` keeps the test tools.
# Without uv (no index reachable for the bootstrap, no uv on PATH) it falls back to pip and pyproject.toml's
# ranges, with a warning: the install works but is not the locked one.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
extra=${1:-}
case "$extra" in
"") what="runtime" ;;
dev | models) what="$extra (extra)" ;;
*)
	echo "install-python: unknown extra '$extra' (expected nothing, dev or models)" >&2
	exit 2
	;;
esac

step() { printf '==> %s\n' "$*"; }
warn() { printf 'install-python: warning: %s\n' "$*" >&2; }

if [ ! -x "$VENV/bin/python" ]; then
	step "creating the virtual environment $VENV ($PYTHON)..."
	"$PYTHON" -m venv "$VENV"
fi
py="$VENV/bin/python"

locked_uv_version() {
	# The uv release uv.lock pins (it is a runtime dependency too: it builds node packs' environments).
	"$py" - <<'EOF'
import tomllib
with open("uv.lock", "rb") as f:
    print(next((p["version"] for p in tomllib.load(f)["package"] if p["name"] == "uv"), ""))
EOF
}

version=$(locked_uv_version 2>/dev/null || true)
uv=""
if [ -x "$VENV/bin/uv" ] && [ "$("$VENV/bin/uv" --version 2>/dev/null | cut -d' ' -f2)" = "$version" ]; then
	uv="$VENV/bin/uv"
else
	step "bootstrapping uv${version:+ $version} into $VENV (pip)..."
	# -qq: errors only (a machine's pip.conf may name indexes that hold no uv, and pip warns about each).
	if "$py" -m pip install -qq --disable-pip-version-check "uv${version:+==$version}"; then
		uv="$VENV/bin/uv"
	elif [ -x "$VENV/bin/uv" ]; then
		uv="$VENV/bin/uv"
		warn "could not install uv $version with pip: using $("$uv" --version) from $VENV"
	elif command -v uv >/dev/null 2>&1; then
		uv=$(command -v uv)
		warn "could not install uv with pip: using $uv ($("$uv" --version))"
	fi
fi

if [ -z "$uv" ]; then
	warn "uv is not available (pip could not install it and none is on PATH): installing with pip from" \
		"pyproject.toml's version ranges, not from uv.lock"
	spec="."
	[ -n "$extra" ] && spec=".[$extra]"
	step "installing Python $what dependencies (pip, unlocked)..."
	"$py" -m pip install --disable-pip-version-check -e "$spec"
	exit 0
fi

# A uv.lock that no longer matches pyproject.toml (a dependency was added) fails in CI, where it must have been
# committed with the change; elsewhere it is brought up to date here and should be committed.
if ! "$uv" lock --check --quiet 2>/dev/null; then
	if [ "${CI:-}" = "true" ]; then
		echo "install-python: uv.lock does not match pyproject.toml: run 'uv lock' (or make lock) and commit uv.lock" >&2
		exit 1
	fi
	step "updating uv.lock to match pyproject.toml (uv lock; commit the result)..."
	"$uv" lock
fi

# Indexes this machine configured for pip, handed to uv as flags: searched before PyPI, and every file must
# still match a hash in uv.lock. UV_* variables set by the user take precedence over these.
index_args=()
shown=""
if [ -z "${UV_INDEX_URL:-}${UV_EXTRA_INDEX_URL:-}${UV_DEFAULT_INDEX:-}${UV_INDEX:-}${UV_FIND_LINKS:-}" ]; then
	while IFS= read -r line; do
		key=${line%%=*}
		value=${line#*=}
		value=${value#\'}
		value=${value%\'}
		case "$key" in
		*.index-url) flag=--default-index ;;
		*.extra-index-url) flag=--extra-index-url ;;
		*.find-links) flag=--find-links ;;
		*) continue ;;
		esac
		for url in $value; do
			case " ${index_args[*]-} " in *" $flag $url "*) ;; *) index_args+=("$flag" "$url"); shown+=" $url" ;; esac
		done
	done < <("$py" -m pip config list 2>/dev/null || true)
	if [ ${#index_args[@]} -gt 0 ]; then
		# pip's semantics: a version missing from the local index is taken from the next one (PyPI).
		index_args+=(--index-strategy unsafe-best-match)
		step "using the package indexes pip is configured with, before PyPI:$shown"
	fi
fi

requirements="$VENV/.flowyard-requirements${extra:+-$extra}.txt"
export_args=(--frozen --no-emit-project --format requirements-txt --quiet -o "$requirements")
[ -n "$extra" ] && export_args+=(--extra "$extra")
"$uv" export "${export_args[@]}" >/dev/null
count=$(grep -o '^[A-Za-z0-9][A-Za-z0-9._-]*==' "$requirements" | sort -u | wc -l)

step "installing Python $what dependencies (uv, $count locked packages)..."
"$uv" pip install --python "$py" --require-hashes "${index_args[@]}" -r "$requirements"
step "installing flowyard itself (editable, uv)..."
"$uv" pip install --python "$py" --quiet --no-deps "${index_args[@]}" -e .
