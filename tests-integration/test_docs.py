"""Every Python snippet of the docs runs.

The Markdown files are README.md, docs/*.md and each package's README.md (and the
command line's reference). In one file, the ```python blocks run in order in one
namespace, like a session, in a fresh temporary working directory; ``__name__`` is
not ``"__main__"``, so ``if __name__ == "__main__":`` guards (``server.run()``) are
left alone. A block with top-level ``await`` runs in a ``trio.run`` of its own.

Two HTML comments, invisible on the rendered page, prepare what a snippet assumes or
check what it did:

``<!-- docs-test: setup`` CODE ``-->`` runs CODE where it stands (same namespace, in
which ``REPOSITORY`` is the repository's root).
``<!-- docs-test: wrap`` TEMPLATE ``-->`` puts each following block in TEMPLATE, in
place of its line ``...`` (indented as that line), until ``<!-- docs-test: unwrap -->``.
"""

from __future__ import annotations

import ast
import inspect
import os
import re
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio

ROOT = Path(__file__).parents[1]
PAGES = sorted(
    {
        ROOT / "README.md",
        *ROOT.glob("docs/*.md"),
        *ROOT.glob("packages/*/README.md"),
        *ROOT.glob("packages/*/*.md"),
    }
)
PIECE = re.compile(
    r"^<!-- docs-test: (?P<directive>setup|wrap)\n(?P<hidden>.*?)^-->$"
    r"|^<!-- docs-test: unwrap -->$"
    r"|^```python\n(?P<code>.*?)^```$",
    re.MULTILINE | re.DOTALL,
)


@attrs.frozen
class Snippet:
    source: str
    line: int


def snippets(page: Path) -> Iterator[Snippet]:
    text = page.read_text()
    wrap: str | None = None
    for match in PIECE.finditer(text):
        line = text.count("\n", 0, match.start()) + 2
        if match["directive"] == "setup":
            yield Snippet(match["hidden"], line)
        elif match["directive"] == "wrap":
            wrap = match["hidden"]
        elif match["code"] is None:
            wrap = None
        else:
            yield Snippet(_wrapped(match["code"], wrap) if wrap else match["code"], line)


def _wrapped(code: str, template: str) -> str:
    lines = []
    for line in template.splitlines():
        if line.strip() == "...":
            indent = line[: len(line) - len(line.lstrip())]
            lines.append(textwrap.indent(code, indent))
        else:
            lines.append(line + "\n")
    return "".join(lines)


def run(snippet: Snippet, page: Path, namespace: dict[str, Any]) -> None:
    where = f"{page.relative_to(ROOT)}:{snippet.line}"
    code = compile(snippet.source, where, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    if code.co_flags & inspect.CO_COROUTINE:

        async def main() -> None:
            await eval(code, namespace)

        trio.run(main)
    else:
        exec(code, namespace)


def test_the_readme_quick_start_is_the_example() -> None:
    quick_start = next(snippets(ROOT / "README.md")).source
    assert quick_start == (ROOT / "examples" / "quickstart.py").read_text()


def test_every_page_with_python_is_checked() -> None:
    checked = {p.relative_to(ROOT).as_posix() for p in PAGES if any(snippets(p))}
    assert {"README.md", "docs/concepts.md", "packages/fastmcp-client/README.md"} <= checked


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_the_snippets_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    # "python" in a snippet's command is this interpreter, as in an activated venv
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    namespace: dict[str, Any] = {"__name__": "__docs__", "REPOSITORY": ROOT}
    modules = set(sys.modules)
    try:
        for snippet in snippets(page):
            run(snippet, page, namespace)
    finally:
        for name in set(sys.modules) - modules:  # modules the snippets wrote and imported
            module = sys.modules[name]
            if str(tmp_path) in (getattr(module, "__file__", None) or ""):
                del sys.modules[name]
    assert os.getcwd() == str(tmp_path)
