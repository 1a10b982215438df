"""``--auth oauth``: authorization for servers reached by URL, in the user's browser,
with the tokens kept on disk so that the next command does not ask again."""

from __future__ import annotations

import argparse
import os
import sys
import webbrowser
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastmcp_client.auth import OAuth

__all__ = ["DEFAULT_CALLBACK_PORT", "OAUTH_DIR_VARIABLE", "oauth_directory", "oauth_for"]

DEFAULT_CALLBACK_PORT = 33418
"""The loopback port the browser comes back to. Fixed rather than random: the
client registered with an authorization server names its redirect URI, port and all,
and is reused on the next run."""
OAUTH_DIR_VARIABLE = "FASTMCP_OAUTH_DIR"


def oauth_directory() -> Path:
    """Where tokens and client registrations are kept: ``$FASTMCP_OAUTH_DIR``, else
    ``$XDG_STATE_HOME/fastmcp/oauth`` (``~/.local/state/fastmcp/oauth``)."""
    chosen = os.environ.get(OAUTH_DIR_VARIABLE)
    if chosen:
        return Path(chosen).expanduser()
    state = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(state) / "fastmcp" / "oauth"


def oauth_for(args: argparse.Namespace) -> OAuth | None:
    """The OAuth provider ``--auth oauth`` asks for (``None`` without it)."""
    if getattr(args, "auth", None) != "oauth":
        return None
    from fastmcp_client.auth import BrowserRedirect, FileTokenStorage, OAuth

    return OAuth(
        storage=FileTokenStorage(oauth_directory()),
        redirect=BrowserRedirect(port=args.callback_port, open_browser=_open_browser),
        client_name="fastmcp command line",
    )


def _open_browser(url: str) -> None:
    # on stderr: stdout may be a stdio server's
    print(f"fastmcp: authorize in your browser (opening it): {url}", file=sys.stderr, flush=True)
    webbrowser.open(url)
