"""fastmcp: cancel-correct MCP servers and clients on trio.

One install and one import for everyday work::

    from fastmcp import McpContext, Server

    server = Server("demo", "1.0").request_timeout(30)

    @server.tool
    async def add(ctx: McpContext, a: int, b: int) -> int:
        \"\"\"Add two integers.\"\"\"
        await ctx.checkpoint()
        return a + b

    server.run()  # stdio; server.run("http", port=8000) for Streamable HTTP

This package re-exports the public names of ``fastmcp_server`` (servers, handlers,
middleware), ``fastmcp_client`` (the client) and ``fastmcp_core`` (the context,
budgets, outcomes, errors); ``from fastmcp.prelude import *`` brings the everyday ones
into scope. The wire types live in ``fastmcp_protocol`` and the transports in
``fastmcp_transport``. Importing ``fastmcp`` stays light: the HTTP machinery loads
when a server first serves HTTP or a client first connects to a URL, and the
``fastmcp`` command line (``fastmcp.cli``) and the proxy (``fastmcp.proxy``) only
when they are imported.
"""

from typing import TYPE_CHECKING, Any

from fastmcp_client import (
    Client,
    ClientError,
    ConfigError,
    ElicitationHandler,
    HttpServer,
    IncompatibleServer,
    InputRequiredError,
    LoadedSkill,
    LogHandler,
    McpConfig,
    Notification,
    NotificationHandler,
    RootsHandler,
    SamplingHandler,
    ServerConfig,
    SkillVerificationError,
    StdioServer,
    Subscription,
    Target,
    TaskFailed,
    ToolCallError,
    ToolTask,
    UnexpectedResult,
    python_logging,
)
from fastmcp_core import (
    Budget,
    Cancelled,
    CancelReason,
    ConnectionClosed,
    Elicited,
    Err,
    McpContext,
    McpError,
    Ok,
    Outcome,
    Panicked,
    ProgressCallback,
    ProtocolError,
    RequestTimeout,
    TestingContext,
    ToolError,
    TransportClosed,
    TransportError,
)
from fastmcp_protocol import FastMcpError, LocalError, PeerError
from fastmcp_server import (
    Completer,
    FunctionPrompt,
    FunctionResource,
    FunctionResourceTemplate,
    FunctionTool,
    InMemoryTaskStore,
    Lifespan,
    PromptHandler,
    ResourceHandler,
    ResourceTemplateHandler,
    Server,
    TaskStore,
    ToolHandler,
    prompt,
    resource,
    tool,
)

if TYPE_CHECKING:
    from fastmcp_server import (
        Audio,
        CallNext,
        ErrorMappingMiddleware,
        File,
        Image,
        LoggingMiddleware,
        Middleware,
        TimingMiddleware,
        UriTemplate,
    )

    __version__: str
    """The installed distribution's version: its ``pyproject.toml`` is the one source."""

# Re-exported on first use: fastmcp_server loads them lazily, and so does this facade.
_FROM_SERVER = frozenset(
    {
        "Audio",
        "CallNext",
        "ErrorMappingMiddleware",
        "File",
        "Image",
        "LoggingMiddleware",
        "Middleware",
        "TimingMiddleware",
        "UriTemplate",
    }
)


def __getattr__(name: str) -> Any:
    if name == "__version__":  # read when asked: importlib.metadata is slow to import
        from importlib.metadata import version

        globals()[name] = value = version("fastmcp")
        return value
    if name not in _FROM_SERVER:
        raise AttributeError(f"module 'fastmcp' has no attribute {name!r}")
    import fastmcp_server

    value = getattr(fastmcp_server, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_FROM_SERVER})


__all__ = [
    # servers
    "Server",
    "tool",
    "resource",
    "prompt",
    "Lifespan",
    "Image",
    "Audio",
    "File",
    "ToolHandler",
    "ResourceHandler",
    "ResourceTemplateHandler",
    "PromptHandler",
    "FunctionTool",
    "FunctionResource",
    "FunctionResourceTemplate",
    "FunctionPrompt",
    "Completer",
    "UriTemplate",
    "Middleware",
    "CallNext",
    "LoggingMiddleware",
    "TimingMiddleware",
    "ErrorMappingMiddleware",
    "TaskStore",
    "InMemoryTaskStore",
    # the context, budgets and outcomes
    "McpContext",
    "TestingContext",
    "Elicited",
    "Budget",
    "Outcome",
    "Ok",
    "Err",
    "Cancelled",
    "Panicked",
    "CancelReason",
    "ProgressCallback",
    # clients
    "Client",
    "Target",
    "McpConfig",
    "ServerConfig",
    "StdioServer",
    "HttpServer",
    "SamplingHandler",
    "ElicitationHandler",
    "RootsHandler",
    "LogHandler",
    "NotificationHandler",
    "Notification",
    "python_logging",
    "ToolTask",
    "Subscription",
    "LoadedSkill",
    # errors
    "FastMcpError",
    "McpError",
    "PeerError",
    "LocalError",
    "ToolError",
    "ProtocolError",
    "RequestTimeout",
    "ConnectionClosed",
    "TransportClosed",
    "TransportError",
    "ClientError",
    "ToolCallError",
    "UnexpectedResult",
    "IncompatibleServer",
    "InputRequiredError",
    "TaskFailed",
    "SkillVerificationError",
    "ConfigError",
]
