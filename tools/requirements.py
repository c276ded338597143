"""Write requirements.txt: the tested, pinned set of packages, generated from pyproject.toml.

The set is every distribution that ``exsampling[test]`` needs, directly or through other packages, at the version
installed in the environment that runs this script (the one the tests passed in). ``make install`` installs with
``-c requirements.txt``, so CI tests exactly these versions; ``--check`` (run by ``make test``) fails when
pyproject.toml and requirements.txt have drifted apart.

    python tools/requirements.py            # rewrite requirements.txt
    python tools/requirements.py --check    # exit 1 and show the difference when it is stale
"""
from __future__ import annotations

import argparse
import difflib
import platform
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "requirements.txt"
EXTRAS = ("test",)


def wanted(requirement: Requirement, extras: set[str]) -> bool:
    """Whether ``requirement`` applies here, for a distribution asked for with ``extras``."""
    if requirement.marker is None:
        return True
    env = default_environment()
    return any(requirement.marker.evaluate({**env, "extra": extra}) for extra in (extras or {""}))


def closure(roots: list[Requirement]) -> dict[str, str]:
    """Canonical name → installed version of every distribution ``roots`` need here."""
    found: dict[str, str] = {}
    seen: set[tuple[str, frozenset[str]]] = set()
    todo = [(r, frozenset(r.extras)) for r in roots]
    while todo:
        requirement, extras = todo.pop()
        name = canonicalize_name(requirement.name)
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        try:
            dist = metadata.distribution(requirement.name)
        except metadata.PackageNotFoundError:
            raise SystemExit(f"{requirement.name} is not installed: install the project first (make install)") from None
        found[name] = dist.version
        for line in dist.requires or []:
            child = Requirement(line)
            if wanted(child, set(extras)):
                todo.append((child, frozenset(child.extras)))
    return found


def render() -> str:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    lines = list(project["dependencies"])
    for extra in EXTRAS:
        lines += project["optional-dependencies"][extra]
    roots = [r for r in map(Requirement, lines) if wanted(r, set())]
    pins = closure(roots)
    pins.pop(canonicalize_name(project["name"]), None)
    head = [
        "# The tested set of packages: exsampling[test] and everything it needs, pinned.",
        "# Generated from pyproject.toml by tools/requirements.py (do not edit; `make requirements` rewrites it)",
        f"# on Python {platform.python_version()}, {sys.platform} {platform.machine()}.",
    ]
    return "\n".join(head + [f"{name}=={version}" for name, version in sorted(pins.items())]) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare with requirements.txt instead of writing it")
    args = parser.parse_args()
    fresh = render()
    if not args.check:
        OUT.write_text(fresh, encoding="utf-8")
        print(f"wrote {OUT}")
        return 0
    current = OUT.read_text(encoding="utf-8") if OUT.exists() else ""
    drift = list(difflib.unified_diff(current.splitlines()[3:], fresh.splitlines()[3:], "requirements.txt",
                                      "from pyproject.toml", lineterm=""))
    if drift:
        print("\n".join(drift))
        print("requirements.txt is stale: run `make requirements` (python tools/requirements.py) and commit it",
              file=sys.stderr)
        return 1
    print("requirements.txt matches pyproject.toml and this environment")
    return 0


if __name__ == "__main__":
    sys.exit(main())
