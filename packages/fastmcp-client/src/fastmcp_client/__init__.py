"""fastmcp-client: a complete MCP client on trio, for every transport and both eras.

::

    import trio
    from fastmcp_client import Client

    async def main() -> None:
        async with Client(["python", "server.py"]) as client:
            tools = await client.list_all_tools()
            result = await client.call_tool("add", {"a": 1, "b": 2})

    trio.run(main)

``Client(target)`` connects to an in-process server, a command (stdio), a URL
(Streamable HTTP) or a server of an MCP configuration; it negotiates the newest
protocol both sides speak (``server/discover``, falling back to ``initialize``) and
speaks it transparently: input-required rounds, tasks and subscriptions look the
same in both eras.

Each name has one home: this package exports what it defines. The errors a call
raises that are not the client's own come from where they are defined:
``fastmcp_protocol`` (``PeerError``, ``LocalError``, ``McpError``,
``UnexpectedResult``) and ``fastmcp_core`` (``ConnectionClosed``, ``RequestTimeout``,
``TransportError``, ``ProgressCallback``); ``fastmcp`` hands them all on in one place.
"""

import typing as _typing

from fastmcp_client._client import Client
from fastmcp_client._config import HttpServer, McpConfig, ServerConfig, StdioServer
from fastmcp_client._errors import (
    ClientError,
    ConfigError,
    IncompatibleServer,
    InputRequiredError,
    TaskFailed,
    ToolCallError,
)
from fastmcp_client._handlers import (
    ElicitationHandler,
    IncomingNotification,
    LogHandler,
    NotificationHandler,
    RootsHandler,
    SamplingHandler,
    python_logging,
)
from fastmcp_client._skills import LoadedSkill, SkillVerificationError
from fastmcp_client._subscriptions import Subscription
from fastmcp_client._targets import ServesTransport, Target
from fastmcp_client._tasks import TaskSnapshot, ToolTask

if _typing.TYPE_CHECKING:
    __version__: str
    """The installed distribution's version: its ``pyproject.toml`` is the one source."""
else:

    def __getattr__(name: str) -> str:
        if name == "__version__":  # read when asked: importlib.metadata is slow to import
            from importlib.metadata import version

            globals()[name] = value = version("fastmcp-client")
            return value
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    # the client
    "Client",
    "Target",
    "ServesTransport",
    # configurations
    "McpConfig",
    "ServerConfig",
    "StdioServer",
    "HttpServer",
    # what the server asks and tells
    "SamplingHandler",
    "ElicitationHandler",
    "RootsHandler",
    "LogHandler",
    "NotificationHandler",
    "IncomingNotification",
    "python_logging",
    # tasks and subscriptions
    "ToolTask",
    "TaskSnapshot",
    "Subscription",
    "LoadedSkill",
    # errors (the client's own: PeerError, ConnectionClosed, RequestTimeout... are
    # fastmcp_protocol's and fastmcp_core's)
    "ClientError",
    "ToolCallError",
    "IncompatibleServer",
    "InputRequiredError",
    "TaskFailed",
    "SkillVerificationError",
    "ConfigError",
]
