"""The ``fastmcp`` command line (``fastmcp --help``; the reference is CLI.md).

Imported only by the console script and ``python -m fastmcp``: ``import fastmcp``
never loads it.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from collections.abc import Sequence
from importlib import metadata
from typing import NoReturn

from fastmcp._cli._auth import DEFAULT_CALLBACK_PORT
from fastmcp._cli._console import LEVELS, Console
from fastmcp._cli._errors import CliError, leaf

__all__ = ["console_main", "main"]

PACKAGES = (
    "fastmcp",
    "fastmcp-protocol",
    "fastmcp-core",
    "fastmcp-transport",
    "fastmcp-server",
    "fastmcp-client",
)

_SPEC_HELP = (
    "the server: file.py, file.py:object, module:object, a URL, or a server name "
    "from mcp.json (a command to run goes after --)"
)


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage mistake in one line."""

    def error(self, message: str) -> NoReturn:
        Console().error(f"{message} (see: {self.prog} --help)")
        sys.exit(2)


def _spec_options(parser: argparse.ArgumentParser, *, positional: bool = True) -> None:
    if positional:
        parser.add_argument("spec", nargs="?", metavar="SPEC", help=_SPEC_HELP)
    parser.add_argument(
        "-m",
        "--module",
        metavar="MODULE[:OBJECT]",
        help="serve a module, as python -m would find it",
    )
    parser.add_argument(
        "--config",
        metavar="PATH",
        help="the MCP configuration to find server names in (default: ./mcp.json, ./.mcp.json)",
    )


def _http_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-H", "--header", action="append", metavar="'NAME: VALUE'",
        help="an HTTP header for a server reached by URL (repeatable)",
    )  # fmt: skip
    parser.add_argument(
        "--auth", choices=("oauth",),
        help="oauth: authorize in the browser when the server asks (tokens are kept in "
        "$FASTMCP_OAUTH_DIR, default ~/.local/state/fastmcp/oauth)",
    )  # fmt: skip
    parser.add_argument(
        "--callback-port", type=int, default=DEFAULT_CALLBACK_PORT, metavar="PORT",
        help=f"--auth oauth: the loopback port the browser comes back to "
        f"(default: {DEFAULT_CALLBACK_PORT})",
    )  # fmt: skip


def _log_option(parser: argparse.ArgumentParser, default: str | None) -> None:
    shown = default or "warning, or FASTMCP_LOG_LEVEL"
    parser.add_argument(
        "--log-level", choices=LEVELS, default=default,
        help=f"what to log on stderr (default: {shown}; info logs every request with its duration)",
    )  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    from fastmcp_server import Server

    parser = _Parser(
        prog="fastmcp",
        description="Run, call, inspect and install MCP servers.",
        epilog="Run `fastmcp COMMAND --help` for a command's options.",
    )
    parser.add_argument("--version", action="store_true", help="print the versions and exit")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    run = commands.add_parser(
        "run", help="serve a server over stdio or HTTP (a URL or configured server: a proxy)",
        description="Serve a server over stdio (the default) or Streamable HTTP. A URL, a "
        "configured server or a command is served through a proxy.",
    )  # fmt: skip
    _spec_options(run)
    # the defaults of these come from the FASTMCP_* variables (fastmcp_server.Settings)
    run.add_argument(
        "-t", "--transport", choices=("stdio", "http"),
        help="stdio (the default) or http (default from FASTMCP_TRANSPORT)",
    )  # fmt: skip
    run.add_argument("--host", help="HTTP: the address to bind (default: 127.0.0.1)")
    run.add_argument("--port", type=int, help="HTTP: the port (default: 8000; 0 picks a free one)")
    run.add_argument("--path", help="HTTP: the endpoint's path (default: /mcp)")
    run.add_argument(
        "--stateless", action="store_true", default=None, help="HTTP: no sessions (for replicas)"
    )
    run.add_argument(
        "--http-server", choices=("h1", "hypercorn"),
        help="HTTP: h1, our own HTTP/1.1 server (the default), or hypercorn (HTTP/2 too)",
    )  # fmt: skip
    run.add_argument("--reload", action="store_true", help="HTTP: restart when a .py file changes")
    run.add_argument(
        "--server-auth", metavar="KIND",
        help="HTTP: protect the server: static, github, google or oidc, configured by "
        "FASTMCP_SERVER_AUTH_* variables (default: $FASTMCP_SERVER_AUTH)",
    )  # fmt: skip
    run.add_argument(
        "--store", metavar="URL",
        help="where replicas share tasks, subscriptions and HTTP sessions: redis://HOST:PORT/DB "
        "(default from FASTMCP_STORE, else this process alone)",
    )  # fmt: skip
    run.add_argument(
        "--state-secret", metavar="SECRET",
        help="the key of multi round-trip requestState, the same on every replica (a ring "
        "new,old for rotation; default from FASTMCP_STATE_SECRET, which keeps it out of ps)",
    )  # fmt: skip
    run.add_argument(
        "--shutdown-grace", type=float, metavar="SECONDS",
        help="on Ctrl-C, SIGTERM or stdin closing: how long requests in flight get to "
        f"finish before they are answered with a shutdown error (default: "
        f"{Server.DEFAULT_SHUTDOWN_GRACE:g})",
    )  # fmt: skip
    _http_options(run)
    _log_option(run, None)

    call = commands.add_parser(
        "call", help="call a tool, read a resource or get a prompt",
        description="Call TOOL with key=value arguments (typed by the tool's input schema), "
        "read a resource (a URI instead of TOOL, or --resource), or get a prompt (--prompt).",
    )  # fmt: skip
    call.add_argument(
        "words", nargs="*", metavar="SPEC TOOL|URI key=value",
        help="the server (omitted with -m or a command after --), the tool or resource URI "
        "(omitted with --resource or --prompt), the arguments",
    )  # fmt: skip
    _spec_options(call, positional=False)
    call.add_argument(
        "--input-json",
        metavar="JSON",
        help="arguments as a JSON object (key=value pairs add to it)",
    )
    call.add_argument("--resource", metavar="URI", help="read this resource")
    call.add_argument("--prompt", metavar="NAME", help="get this prompt")
    call.add_argument("--json", action="store_true", help="print the whole result as JSON")
    call.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="give up after this long (default: never; Ctrl-C cancels)",
    )
    _http_options(call)
    _log_option(call, "warning")

    listing = commands.add_parser("list", help="list tools, resources, templates and prompts")
    _spec_options(listing)
    listing.add_argument("--schemas", action="store_true", help="show the tools' schemas")
    listing.add_argument("--json", action="store_true", help="print the lists as JSON")
    _http_options(listing)
    _log_option(listing, "warning")

    inspect = commands.add_parser("inspect", help="a JSON report of the server")
    _spec_options(inspect)
    _http_options(inspect)
    _log_option(inspect, "warning")

    from fastmcp._cli._install import TARGETS
    from fastmcp._cli._serve import INSPECTOR

    dev = commands.add_parser("dev", help="run the server under the MCP Inspector (needs Node.js)")
    _spec_options(dev)
    dev.add_argument(
        "-e", "--env", action="append", metavar="KEY=VALUE", help="environment of the server"
    )
    dev.add_argument(
        "--inspector", default=INSPECTOR, help=f"the Inspector package (default: {INSPECTOR})"
    )

    install = commands.add_parser(
        "install", help="add the server to an MCP client's configuration",
        description="Add the server to Claude Desktop, Claude Code, Cursor, or a generic mcp.json.",
    )  # fmt: skip
    _spec_options(install)
    install.add_argument("--target", required=True, choices=TARGETS, help="the client to configure")
    install.add_argument("--name", help="the server's name there (default: the server's own name)")
    install.add_argument(
        "-e",
        "--env",
        action="append",
        metavar="KEY=VALUE",
        help="an environment variable for the server (repeatable)",
    )
    install.add_argument(
        "--env-file", metavar="PATH", help="environment variables from a .env file"
    )
    install.add_argument(
        "--python", metavar="PATH", help="the Python to run the server with (default: this one)"
    )
    install.add_argument(
        "--project", metavar="DIR", help="cursor, claude-code: the project to configure"
    )
    install.add_argument(
        "--output", metavar="PATH", help="mcp-json: merge into this file instead of printing"
    )
    install.add_argument("--force", action="store_true", help="replace an entry of the same name")
    _http_options(install)

    commands.add_parser(
        "version", help="the versions of fastmcp's packages, Python and the platform"
    )
    parser.set_defaults(call_parser=call)
    return parser


def versions() -> str:
    """What ``fastmcp version`` prints."""
    lines = []
    for package in PACKAGES:
        try:
            version = metadata.version(package)
        except metadata.PackageNotFoundError:
            version = "not installed"
        lines.append(f"{package:<18} {version}")
    lines.append(f"{'python':<18} {platform.python_version()} ({platform.python_implementation()})")
    lines.append(f"{'platform':<18} {platform.platform()}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line on ``argv`` (default: ``sys.argv[1:]``); the exit status."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    command: list[str] = []
    if "--" in args_list:  # everything after -- is the server's command
        split = args_list.index("--")
        args_list, command = args_list[:split], args_list[split + 1 :]
    console = Console()
    parser = build_parser()
    try:
        if args_list and args_list[0] == "call":
            # options may come between the words (argparse alone stops at the first)
            call: argparse.ArgumentParser = parser.get_default("call_parser")
            args = call.parse_intermixed_args(args_list[1:])
            args.command, args.version = "call", False
        else:
            args = parser.parse_args(args_list)
        return _dispatch(parser, args, command, console)
    except CliError as error:
        console.error(error.message)
        return error.status
    except KeyboardInterrupt:
        return 130
    except BaseException as exc:
        if isinstance(exc, SystemExit):
            raise
        return _unexpected(exc, console)


def _dispatch(
    parser: argparse.ArgumentParser,
    args: argparse.Namespace,
    command: list[str],
    console: Console,
) -> int:
    if args.version or args.command == "version":
        print(versions())
        return 0
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    from fastmcp._cli._spec import parse_spec

    if args.command == "call":
        # the words: SPEC (unless -m or a command gives it), TOOL|URI (unless --resource
        # or --prompt says what), then key=value pairs
        words = list(args.words)
        text = None if (command or args.module) else (words.pop(0) if words else None)
        takes_target = args.resource is None and args.prompt is None
        args.target = words.pop(0) if words and takes_target else None
        args.pairs = words
    else:
        text = args.spec
    if command and args.command not in ("run", "call", "list", "inspect", "dev", "install"):
        raise CliError(f"fastmcp {args.command} takes no command after --")
    spec = parse_spec(text, module=args.module, command=command, config=args.config)
    if args.command == "run":
        from fastmcp._cli._serve import run_server

        return run_server(spec, args, console)
    if args.command == "dev":
        from fastmcp._cli._serve import run_dev

        return run_dev(spec, args, console)
    if args.command == "install":
        from fastmcp._cli._install import run_install

        return run_install(spec, args, console)
    from fastmcp._cli._client import run_call, run_inspect, run_list

    runner = {"call": run_call, "list": run_list, "inspect": run_inspect}[args.command]
    return runner(spec, args, console)


def _unexpected(exc: BaseException, console: Console) -> int:
    """One line for an error that escaped the commands: an MCP error, a network or
    OS error, or (a bug) anything else; ``FASTMCP_DEBUG=1`` re-raises it."""
    from fastmcp_client import ConfigError
    from fastmcp_protocol import McpError

    error = leaf(exc)
    if isinstance(error, KeyboardInterrupt):
        return 130
    if isinstance(error, CliError):
        console.error(error.message)
        return error.status
    if os.environ.get("FASTMCP_DEBUG"):
        raise exc
    if isinstance(error, McpError):
        console.error(error.message)
    elif isinstance(error, ConfigError):
        console.error(str(error))
    elif isinstance(error, OSError):
        console.error(
            f"{error.strerror or error}" + (f": {error.filename}" if error.filename else "")
        )
    else:
        console.error(f"{type(error).__name__}: {error} (set FASTMCP_DEBUG=1 to see the traceback)")
    return 1


def console_main() -> NoReturn:
    """The ``fastmcp`` console script."""
    sys.exit(main())
