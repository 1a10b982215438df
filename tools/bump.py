"""Give the six packages a new version: ``python3 tools/nox.py -s bump -- X.Y.Z``.

The version is written in one kind of place only: each package's ``pyproject.toml``,
as its ``version`` and as the exact pins on its siblings (``fastmcp-core==X.Y.Z``) that
make the six install together. The code holds no copy: ``__version__`` and the client's
``clientInfo`` read the installed distribution's metadata. Besides the pyproject files,
only the pages that name one of our wheels (``dist/fastmcp_server-X.Y.Z-py3-none-any.whl``)
or a pin show the version; this rewrites those too, and nothing else (a version in
prose, PrefectHQ's ``fastmcp==0.1.0`` say, is not ours to change).

``tests-integration/test_versions.py`` checks that all of these agree, and that this
script makes them agree. Standard library only (nox runs it with no environment).
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = [
    "fastmcp-protocol",
    "fastmcp-core",
    "fastmcp-transport",
    "fastmcp-server",
    "fastmcp-client",
    "fastmcp",
]
# the pages that may name a wheel or a pin of ours (relative to the repository root)
PAGES = ["README.md", "AGENTS.md", "docs/*.md", "packages/*/*.md", "examples/**/*.md"]

VERSION = re.compile(r"\d+(\.\d+)*((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?")
"""A release version as PEP 440 writes it (no epoch, no local part)."""
_NAME = "|".join(re.escape(p) for p in sorted(PACKAGES, key=len, reverse=True))
_PROJECT_VERSION = re.compile(r'^(version = ")([^"]+)(")$', re.M)
_PYPROJECT_PIN = re.compile(rf'("(?:{_NAME})(?:\[[^\]]*\])?==)([^";\s]+)')


def pyproject(root: Path, package: str) -> Path:
    return root / "packages" / package / "pyproject.toml"


def current(root: Path) -> str:
    """The facade's version: the one the others must have."""
    project = tomllib.loads(pyproject(root, "fastmcp").read_text())
    version: str = project["project"]["version"]
    return version


def pages(root: Path) -> list[Path]:
    return sorted({page for pattern in PAGES for page in root.glob(pattern)})


def page_patterns(version: str) -> list[re.Pattern[str]]:
    """How a page names a wheel, an sdist or a sibling pin (``fastmcp-core==``, never the
    facade's ``fastmcp==``: PyPI's ``fastmcp`` is another project) of ``version``;
    groups: what comes before the version, the version, what comes after."""
    v = re.escape(version)
    sibling = "|".join(re.escape(p) for p in PACKAGES if p != "fastmcp")
    return [
        re.compile(rf"(\bfastmcp(?:_[a-z]+)?-)({v})(-py3-none-any\.whl|\.tar\.gz)"),
        re.compile(rf"((?<![\w-])(?:{sibling})(?:\[[^\]]*\])?==)({v})((?![\w.]))"),
    ]


def bump(root: Path, new: str) -> list[Path]:
    """Write ``new`` everywhere the version is written; the files changed."""
    if not VERSION.fullmatch(new):
        raise ValueError(f"not a release version: {new!r} (X.Y.Z, X.Y.ZrcN, ...)")
    old = current(root)
    changed = []
    for package in PACKAGES:
        path = pyproject(root, package)
        text = path.read_text()
        # the first `version = "..."` line is [project]'s: the file starts with it
        updated = _PROJECT_VERSION.sub(rf"\g<1>{new}\g<3>", text, count=1)
        updated = _PYPROJECT_PIN.sub(rf"\g<1>{new}", updated)
        if updated != text:
            path.write_text(updated)
            changed.append(path)
    for page in pages(root):
        text = page.read_text()
        updated = text
        for pattern in page_patterns(old):
            updated = pattern.sub(rf"\g<1>{new}\g<3>", updated)
        if updated != text:
            page.write_text(updated)
            changed.append(page)
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("version", help="the new version, X.Y.Z")
    parser.add_argument(
        "--root", type=Path, default=ROOT, help="the repository (default: this one)"
    )
    args = parser.parse_args(argv)
    try:
        changed = bump(args.root, args.version)
    except ValueError as exc:
        parser.error(str(exc))
    for path in changed:
        print(path.relative_to(args.root))
    return 0


if __name__ == "__main__":
    sys.exit(main())
