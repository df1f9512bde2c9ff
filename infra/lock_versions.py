"""What the container builds read from uv.lock: a package's locked version, or the CUDA-only packages.

    python infra/lock_versions.py torch          -> 2.14.1
    python infra/lock_versions.py --cuda-packages -> --no-emit-package=torch --no-emit-package=nvidia-... ...

The second leaves torch, torchvision and the CUDA wheels out of ``uv export`` when an image installs another
build of torch (the CPU one) from its own index. Standard library only: it runs before anything is installed.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

LOCK = Path(__file__).resolve().parent.parent / "uv.lock"
TORCH_BUILD = ("torch", "torchvision", "triton")


def locked_packages() -> list[dict]:
    with LOCK.open("rb") as f:
        return tomllib.load(f)["package"]


def main(argv: list[str]) -> int:
    if argv == ["--cuda-packages"]:
        names = sorted(
            p["name"]
            for p in locked_packages()
            if p["name"] in TORCH_BUILD or p["name"].startswith(("nvidia-", "cuda-"))
        )
        print(" ".join(f"--no-emit-package={name}" for name in names))
        return 0
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    versions = {p["name"]: p.get("version") for p in locked_packages()}
    if not versions.get(argv[0]):
        print(f"{argv[0]} is not in uv.lock", file=sys.stderr)
        return 1
    print(versions[argv[0]])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
