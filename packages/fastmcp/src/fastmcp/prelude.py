"""The everyday names, for ``from fastmcp.prelude import *``.

What writing a server, a client or a test of a handler needs: the server and its
decorators, the context, budgets and the four outcomes, the media helpers, the client,
and the errors a handler raises or a caller catches::

    from fastmcp.prelude import *

    @tool
    async def greet(ctx: McpContext, name: str) -> str:
        await ctx.checkpoint()
        return f"Hello, {name}!"

    Server("my-server", "1.0.0").tool(greet).run_stdio()
"""

from fastmcp import (
    Audio,
    Budget,
    Cancelled,
    CancelReason,
    Client,
    ConnectionClosed,
    Elicited,
    Err,
    File,
    Image,
    LocalError,
    McpContext,
    McpError,
    Ok,
    Outcome,
    Panicked,
    PeerError,
    ProtocolError,
    RequestTimeout,
    Server,
    ToolCallError,
    ToolError,
    prompt,
    resource,
    tool,
)

__all__ = [
    "Server",
    "tool",
    "resource",
    "prompt",
    "McpContext",
    "Budget",
    "Outcome",
    "Ok",
    "Err",
    "Cancelled",
    "Panicked",
    "CancelReason",
    "Elicited",
    "Image",
    "Audio",
    "File",
    "Client",
    "McpError",
    "PeerError",
    "LocalError",
    "ToolError",
    "ProtocolError",
    "RequestTimeout",
    "ConnectionClosed",
    "ToolCallError",
]
