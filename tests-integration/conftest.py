import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# Helpers (peers.py, servers.py, ...) live beside the tests; importlib mode does not put
# this folder on sys.path by itself.
sys.path.insert(0, str(Path(__file__).parent))

import peers
import servers


@pytest.fixture(scope="session")
def sdk_http() -> Iterator[servers.SdkUrls]:
    """One SDK server over HTTP (``sdk_server.py --http``) for every test that needs it."""
    with servers.sdk_http_server() as urls:
        yield urls


@pytest.fixture(scope="session")
def everything() -> list[str]:
    """The argv that starts server-everything over stdio."""
    return peers.server_everything("stdio")


@pytest.fixture(scope="session")
def everything_http() -> Iterator[str]:
    """The URL of one server-everything over Streamable HTTP."""
    with servers.everything_http_server() as running:
        yield running.url


@pytest.fixture(autouse=True)
def _children_take_ctrl_c() -> Iterator[None]:
    """The children the tests start see SIGINT as a shell's foreground job does, even
    when the tests run as a background job (started with SIGINT ignored, which
    children inherit, and which a server started that way keeps ignoring)."""
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        yield
        return
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
