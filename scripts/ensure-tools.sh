#!/usr/bin/env bash
# Tools Flowyard needs besides Python packages: bubblewrap, the sandbox of uploaded node packs
# (workers/runtime/packhost/sandbox.py). Installed from apt when missing (as root). Uploaded packs never run
# without it (they are refused, docs/security.md), so a missing or non-working bubblewrap is a warning for
# `make run` and `make worker`, and a failure in CI (CI=true), where the sandbox tests must run.
set -euo pipefail

if ! command -v bwrap >/dev/null 2>&1; then
	if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
		echo "installing bubblewrap (apt)"
		apt-get install -y -qq bubblewrap >/dev/null 2>&1 ||
			{ apt-get update -qq >/dev/null && apt-get install -y -qq bubblewrap >/dev/null; } || true
	fi
fi

problem=""
if ! command -v bwrap >/dev/null 2>&1; then
	problem="bubblewrap (bwrap) is not installed and could not be installed here (needs root and apt)"
elif ! bwrap --ro-bind / / --dev /dev --proc /proc --unshare-all --die-with-parent true 2>/tmp/flowyard-bwrap-probe.$$; then
	problem="bubblewrap cannot create namespaces here: $(cat /tmp/flowyard-bwrap-probe.$$)"
fi
rm -f /tmp/flowyard-bwrap-probe.$$

if [ -n "$problem" ]; then
	if [ "${CI:-}" = "true" ]; then
		echo "error: $problem; CI must test the pack sandbox" >&2
		exit 1
	fi
	echo "warning: $problem: uploaded node packs will be refused (see docs/security.md)" >&2
fi
