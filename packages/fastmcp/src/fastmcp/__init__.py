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
middleware), ``fastmcp_client`` (the client), ``fastmcp_core`` (the context, budgets,
outcomes, the errors of a request) and the root of the errors (``fastmcp_protocol``);
``from fastmcp.prelude import *`` brings the everyday ones into scope. It is the only
package that hands on other packages' names: each is the very object of its one home,
where it is defined. The wire types live in ``fastmcp_protocol`` and the transports in
``fastmcp_transport``. Importing ``fastmcp`` stays light: the HTTP machinery loads
when a server first serves HTTP or a client first connects to a URL, and the
``fastmcp`` command line (``fastmcp.cli``) and the proxy (``fastmcp.proxy``) only
when they are imported.
"""

import typing as _typing

from fastmcp_client import (
    Client,
    ClientError,
    ConfigError,
    ElicitationHandler,
    HttpServer,
    IncomingNotification,
    IncompatibleServer,
    InputRequiredError,
    LoadedSkill,
    LogHandler,
    McpConfig,
    NotificationHandler,
    RootsHandler,
    SamplingHandler,
    ServerConfig,
    SkillVerificationError,
    StdioServer,
    Subscription,
    Target,
    TaskFailed,
    TaskSnapshot,
    ToolCallError,
    ToolTask,
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
from fastmcp_core.store import StoreUnavailable
from fastmcp_protocol import FastMcpError, LocalError, McpError, PeerError, UnexpectedResult
from fastmcp_server import (
    Completer,
    Component,
    CurrentContext,
    Depends,
    FunctionPrompt,
    FunctionResource,
    FunctionResourceTemplate,
    FunctionTool,
    Lifespan,
    PromptHandler,
    ResourceHandler,
    ResourceTemplateHandler,
    Server,
    Settings,
    SettingsError,
    ToolHandler,
    VersionFilter,
    VersionSpec,
    prompt,
    resource,
    tool,
)

if _typing.TYPE_CHECKING:
    from fastmcp_core.store import MemoryStore
    from fastmcp_core.telemetry import Telemetry
    from fastmcp_server import (
        ArgTransform,
        Audio,
        CacheSettings,
        CallNext,
        CallToolSettings,
        ErrorHandlingMiddleware,
        ErrorMappingMiddleware,
        File,
        FileResources,
        GetPromptSettings,
        Image,
        ListPromptsSettings,
        ListResourcesSettings,
        ListToolsSettings,
        LoggingMiddleware,
        Middleware,
        MiddlewareContext,
        MiddlewareFunction,
        NextHook,
        RateLimitError,
        RateLimitingMiddleware,
        ReadResourceSettings,
        ResponseCachingMiddleware,
        RetryMiddleware,
        SlidingWindowRateLimitingMiddleware,
        TimingMiddleware,
        TransformedTool,
        UriTemplate,
        forward,
        forward_raw,
    )
    from fastmcp_server.openapi import HTTPRoute, MCPType, RouteMap

    __version__: str
    """The installed distribution's version: its ``pyproject.toml`` is the one source."""

# Re-exported on first use: fastmcp_server loads them lazily, and so does this facade.
_FROM_SERVER = frozenset(
    {
        "Audio",
        "RateLimitError",
        "RateLimitingMiddleware",
        "SlidingWindowRateLimitingMiddleware",
        "ErrorHandlingMiddleware",
        "RetryMiddleware",
        "ResponseCachingMiddleware",
        "CacheSettings",
        "CallToolSettings",
        "ReadResourceSettings",
        "GetPromptSettings",
        "ListToolsSettings",
        "ListResourcesSettings",
        "ListPromptsSettings",
        "CallNext",
        "ErrorMappingMiddleware",
        "File",
        "FileResources",
        "Image",
        "LoggingMiddleware",
        "Middleware",
        "MiddlewareContext",
        "MiddlewareFunction",
        "NextHook",
        "TimingMiddleware",
        "UriTemplate",
        "ArgTransform",
        "TransformedTool",
        "forward",
        "forward_raw",
    }
)


# Re-exported on first use: OpenAPI to MCP (fastmcp_server.openapi) loads when asked.
_FROM_OPENAPI = frozenset({"HTTPRoute", "MCPType", "RouteMap"})

# Re-exported on first use: a server loads them when it is given a telemetry or makes
# its store (the one it makes without store= is a MemoryStore).
_FROM_CORE = {"MemoryStore": "fastmcp_core.store", "Telemetry": "fastmcp_core.telemetry"}


if not _typing.TYPE_CHECKING:  # (for mypy, the names above and nothing else)

    def __getattr__(name: str) -> _typing.Any:
        if name == "__version__":  # read when asked: importlib.metadata is slow to import
            from importlib.metadata import version

            globals()[name] = value = version("fastmcp")
            return value
        if name in _FROM_SERVER:
            import fastmcp_server as _server

            value = getattr(_server, name)
        elif name in _FROM_OPENAPI:
            import fastmcp_server.openapi as _openapi

            value = getattr(_openapi, name)
        elif name in _FROM_CORE:
            import importlib as _importlib

            value = getattr(_importlib.import_module(_FROM_CORE[name]), name)
        else:
            raise AttributeError(f"module 'fastmcp' has no attribute {name!r}")
        globals()[name] = value
        return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_FROM_SERVER, *_FROM_OPENAPI, *_FROM_CORE})


__all__ = [
    # servers
    "Server",
    "Settings",
    "SettingsError",
    "tool",
    "resource",
    "prompt",
    "Lifespan",
    "Image",
    "Audio",
    "File",
    "FileResources",
    "ToolHandler",
    "ResourceHandler",
    "ResourceTemplateHandler",
    "PromptHandler",
    "FunctionTool",
    "FunctionResource",
    "FunctionResourceTemplate",
    "FunctionPrompt",
    "TransformedTool",
    "ArgTransform",
    "forward",
    "forward_raw",
    "Completer",
    "UriTemplate",
    "Component",
    "Depends",
    "CurrentContext",
    "VersionSpec",
    "VersionFilter",
    "Middleware",
    "MiddlewareContext",
    "MiddlewareFunction",
    "CallNext",
    "NextHook",
    "LoggingMiddleware",
    "TimingMiddleware",
    "ErrorMappingMiddleware",
    "RateLimitError",
    "RateLimitingMiddleware",
    "SlidingWindowRateLimitingMiddleware",
    "ErrorHandlingMiddleware",
    "RetryMiddleware",
    "ResponseCachingMiddleware",
    "CacheSettings",
    "CallToolSettings",
    "ReadResourceSettings",
    "GetPromptSettings",
    "ListToolsSettings",
    "ListResourcesSettings",
    "ListPromptsSettings",
    # OpenAPI and FastAPI to MCP (Server.from_openapi, Server.from_fastapi)
    "RouteMap",
    "MCPType",
    "HTTPRoute",
    "MemoryStore",
    "Telemetry",
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
    "IncomingNotification",
    "python_logging",
    "ToolTask",
    "TaskSnapshot",
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
    "StoreUnavailable",
    "ClientError",
    "ToolCallError",
    "UnexpectedResult",
    "IncompatibleServer",
    "InputRequiredError",
    "TaskFailed",
    "SkillVerificationError",
    "ConfigError",
]
