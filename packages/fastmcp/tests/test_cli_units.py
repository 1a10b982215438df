"""The ``fastmcp`` command's parts, in-process: typing ``key=value`` arguments by
schema, reading a SPEC, finding the server in a file, the client configuration
paths, the progress bar. (The commands themselves run as subprocesses in
test_cli.py.)"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fastmcp._cli._console import Console, ProgressBar
from fastmcp._cli._errors import CliError
from fastmcp._cli._install import claude_desktop_config, read_env_file
from fastmcp._cli._spec import load_server, parse_spec
from fastmcp._cli._values import parse_arguments, parse_pairs

SCHEMA = {
    "type": "object",
    "properties": {
        "count": {"type": "integer"},
        "ratio": {"type": "number"},
        "flag": {"type": "boolean"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "options": {"type": "object"},
        "name": {"type": "string"},
        "maybe": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
        "either": {"type": ["integer", "string"]},
        "color": {"$ref": "#/$defs/Color"},
        "level": {"enum": [1, 2, 3]},
    },
    "$defs": {"Color": {"enum": ["red", "green"]}},
}


def test_values_are_typed_by_the_schema() -> None:
    pairs = [
        "count=42",
        "ratio=0.5",
        "flag=yes",
        'tags=["a","b"]',
        'options={"deep": true}',
        "name=007",
        "maybe=null",
        "either=x1",
        "color=red",
        "level=2",
    ]
    assert parse_arguments(pairs, SCHEMA, what="tool 't'") == {
        "count": 42,
        "ratio": 0.5,
        "flag": True,
        "tags": ["a", "b"],
        "options": {"deep": True},
        "name": "007",  # a string stays a string, however numeric it looks
        "maybe": None,
        "either": "x1",
        "color": "red",
        "level": 2,
    }
    typed = parse_arguments(["ratio=3", "flag=false", "either=5", "maybe=7"], SCHEMA, what="t")
    assert typed == {"ratio": 3, "flag": False, "either": 5, "maybe": 7}


def test_input_json_is_the_base_and_pairs_win() -> None:
    base = {"count": 1, "name": "a"}
    assert parse_arguments(["count=2"], SCHEMA, what="t", base=base) == {"count": 2, "name": "a"}


def test_a_key_without_a_schema_is_json_or_a_string() -> None:
    assert parse_arguments(["n=3", "s=hello", "v=[1]"], {}, what="t") == {
        "n": 3,
        "s": "hello",
        "v": [1],
    }


@pytest.mark.parametrize(
    ("pair", "message"),
    [
        ("count=4.5", "argument 'count' of tool 't' must be an integer, got '4.5'"),
        ("ratio=fast", "must be a number"),
        ("flag=maybe", "must be a boolean (true/false)"),
        ("tags=a,b", "must be a JSON array"),
        ("options=[1]", "must be a JSON object"),
        ("maybe=x", "must be null or an integer"),
        ("level=4", "must be one of 1, 2, 3, got '4'"),
        ("color=blue", 'must be one of "red", "green"'),
    ],
)
def test_a_value_of_the_wrong_type_is_a_clear_error(pair: str, message: str) -> None:
    with pytest.raises(CliError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_arguments([pair], SCHEMA, what="tool 't'")


def test_bad_pairs_and_unknown_keys() -> None:
    with pytest.raises(CliError, match="bad argument 'count': expected key=value"):
        parse_pairs(["count"])
    with pytest.raises(CliError, match="bad argument '=1'"):
        parse_pairs(["=1"])
    closed = {"properties": {"a": {"type": "integer"}}, "additionalProperties": False}
    with pytest.raises(CliError, match=r"tool 't' has no argument 'b' \(its arguments: a\)"):
        parse_arguments(["b=1"], closed, what="tool 't'")
    assert parse_pairs(["url=http://x/?a=b"]) == [("url", "http://x/?a=b")]


# -- SPEC -----------------------------------------------------------------------------------


def test_specs_are_classified(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "app.py").write_text("")
    assert parse_spec("app.py").kind == "file"
    spec = parse_spec("app.py:make.server")
    assert (spec.kind, spec.path, spec.attribute) == ("file", tmp_path / "app.py", "make.server")
    assert parse_spec("pkg.mod:server").kind == "module"
    assert parse_spec(None, module="pkg.mod").module == "pkg.mod"
    assert parse_spec("https://example.com/mcp").url == "https://example.com/mcp"
    assert parse_spec(None, command=["npx", "srv"]).command == ("npx", "srv")
    (tmp_path / "mcp.json").write_text('{"mcpServers": {"files": {"command": "x"}}}')
    spec = parse_spec("files")
    assert (spec.kind, spec.name, spec.config) == ("config", "files", tmp_path / "mcp.json")
    assert spec.run_args() == ["--config", str(tmp_path / "mcp.json"), "files"]


def test_spec_mistakes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CliError, match=r"no such file: nope\.py"):
        parse_spec("nope.py")
    with pytest.raises(CliError, match="no server given"):
        parse_spec(None)
    with pytest.raises(CliError, match="give one SPEC"):
        parse_spec("a.py", command=["x"])
    with pytest.raises(CliError, match=r"is not a \.py file, a URL, module:object, or a server"):
        parse_spec("files")
    (tmp_path / "other.json").write_text('{"mcpServers": {"a": {"command": "x"}}}')
    with pytest.raises(CliError, match=r"no server 'b' in other.json \(it has: a\)"):
        parse_spec("b", config="other.json")
    with pytest.raises(CliError, match=r"no such configuration file: gone\.json"):
        parse_spec("b", config="gone.json")
    (tmp_path / "folder").mkdir()
    with pytest.raises(CliError, match="is a folder"):
        parse_spec("folder")


SERVER_HEADER = "from fastmcp_server import Server\n"


def load(tmp_path: Path, source: str, spec: str = "srv.py") -> str:
    (tmp_path / spec.split(":")[0]).write_text(SERVER_HEADER + source)
    return load_server(parse_spec(str(tmp_path / spec))).name


def test_finding_the_server_in_a_file(tmp_path: Path) -> None:
    assert load(tmp_path, "anything = Server('only')\n") == "only"
    assert load(tmp_path, "a = Server('a')\nmcp = Server('m')\n") == "m"
    assert load(tmp_path, "app = Server('app')\nserver = Server('s')\n") == "s"
    assert load(tmp_path, "s = Server('s')\nalias = s\n") == "s"  # one object, two names
    assert load(tmp_path, "a = Server('a')\nb = Server('b')\n", "srv.py:b") == "b"
    made = "def create():\n    return Server('made')\n"
    assert load(tmp_path, made, "srv.py:create") == "made"
    awaited = "async def create():\n    return Server('awaited')\n"
    assert load(tmp_path, awaited, "srv.py:create") == "awaited"
    nested = "class Holder:\n    server = Server('nested')\n"
    assert load(tmp_path, nested, "srv.py:Holder.server") == "nested"
    # the file's folder is importable, __name__ is not __main__
    (tmp_path / "helper.py").write_text("NAME = 'helped'\n")
    guarded = "import helper\nserver = Server(helper.NAME)\nif __name__ == '__main__':\n    raise SystemExit(9)\n"
    assert load(tmp_path, guarded) == "helped"


@pytest.mark.parametrize(
    ("source", "spec", "message"),
    [
        ("x = 1\n", "srv.py", r"no Server object in srv.py: define one at module level"),
        (
            "def create_server():\n    return Server('x')\n",
            "srv.py",
            r"\(or name a function: srv.py:create_server\)",
        ),
        (
            "a = Server('a')\nb = Server('b')\n",
            "srv.py",
            r"several Server objects in srv.py \(a, b\): choose one, e.g. srv.py:a",
        ),
        ("a = Server('a')\n", "srv.py:nope", r"srv.py has no 'nope' \(Server objects there: a\)"),
        ("x = 3\n", "srv.py:x", "'x' in srv.py is a int, not a Server"),
        ("def f():\n    return 3\n", "srv.py:f", r"f\(\) in srv.py returned a int, not a Server"),
        (
            "def f(a):\n    return Server(a)\n",
            "srv.py:f",
            r"f\(\) in srv.py cannot be called without arguments",
        ),
        (
            "def f():\n    raise ValueError('no config')\n",
            "srv.py:f",
            r"f\(\) in srv.py failed: ValueError: no config",
        ),
        (
            "import json\n\n1 / 0\n",
            "srv.py",
            r"importing srv.py failed: ZeroDivisionError: division by zero \(srv.py:4\)",
        ),
        ("def broken(:\n", "srv.py", r"importing srv.py failed: SyntaxError: .* \(srv.py:2\)"),
        (
            "import no_such_module_here\n",
            "srv.py",
            "ModuleNotFoundError: No module named 'no_such_module_here'",
        ),
        ("raise SystemExit(4)\n", "srv.py", r"importing srv.py called exit\(4\)"),
    ],
)
def test_server_loading_mistakes(tmp_path: Path, source: str, spec: str, message: str) -> None:
    with pytest.raises(CliError, match=message):
        load(tmp_path, source, spec)


def test_a_missing_module_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CliError, match="no module named 'not_a_module_at_all'"):
        load_server(parse_spec(None, module="not_a_module_at_all"))


# -- install --------------------------------------------------------------------------------


def test_claude_desktop_config_paths() -> None:
    home = Path("/home/ada")
    assert claude_desktop_config("linux", {}, home) == Path(
        "/home/ada/.config/Claude/claude_desktop_config.json"
    )
    assert claude_desktop_config("linux", {"XDG_CONFIG_HOME": "/xdg"}, home) == Path(
        "/xdg/Claude/claude_desktop_config.json"
    )
    assert claude_desktop_config("darwin", {}, home) == Path(
        "/home/ada/Library/Application Support/Claude/claude_desktop_config.json"
    )
    windows = claude_desktop_config("win32", {"APPDATA": "C:/Users/ada/AppData/Roaming"}, home)
    assert windows == Path("C:/Users/ada/AppData/Roaming/Claude/claude_desktop_config.json")


def test_env_files(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("# comment\nA=1\nexport B='two words'\n\nC=\"x=y\"\nD=\n")
    assert read_env_file(str(env)) == {"A": "1", "B": "two words", "C": "x=y", "D": ""}
    env.write_text("A=1\nnot a pair\n")
    with pytest.raises(CliError, match=r"\.env:2: expected KEY=VALUE"):
        read_env_file(str(env))
    with pytest.raises(CliError, match="cannot read the env file"):
        read_env_file(str(tmp_path / "missing"))


# -- console --------------------------------------------------------------------------------


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_progress_bar_on_a_terminal_and_off() -> None:
    terminal = Terminal()
    bar = ProgressBar(Console(terminal))
    assert bar.render(1, 4, "loading") == "████████░░░░░░░░░░░░░░░░░░░░░░  25% (1/4) loading"
    assert bar.render(7, None, None) == "7 done"
    bar.update(4, 4, "done")
    bar.close()
    assert terminal.getvalue() == "\r\x1b[2K" + bar.render(4, 4, "done") + "\n"
    plain = io.StringIO()
    lines = ProgressBar(Console(plain))
    lines.update(1, 2, "half")
    lines.update(3, None, None)
    assert plain.getvalue() == "progress 1/2 half\nprogress 3\n"


def test_importing_fastmcp_loads_no_cli_http_or_proxy() -> None:
    code = (
        "import sys, fastmcp\n"
        "heavy = [m for m in ('fastmcp._cli', 'argparse', 'httpx', 'hypercorn', "
        "'fastmcp_transport.http_client', 'fastmcp_transport.http_server') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert done.stdout.strip() == "[]"
