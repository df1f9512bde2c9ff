#!/usr/bin/env bash
# Tools the test suite uses besides Python packages: bubblewrap, which sandboxes node-pack host processes
# (workers/runtime/packhost). Installed from apt only when missing, quietly. Whether it actually works (it needs
# user namespaces) is detected at run time by the code and the tests, which fall back to the documented
# weaker confinement where it does not.
set -euo pipefail

if ! command -v bwrap >/dev/null 2>&1; then
	if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
		echo "installing bubblewrap (apt)"
		apt-get install -y -qq bubblewrap >/dev/null 2>&1 ||
			{ apt-get update -qq >/dev/null && apt-get install -y -qq bubblewrap >/dev/null; } ||
			echo "warning: could not install bubblewrap: pack hosts run without the sandbox" >&2
	else
		echo "warning: bubblewrap (bwrap) is missing: pack hosts run without the sandbox" >&2
	fi
fi
