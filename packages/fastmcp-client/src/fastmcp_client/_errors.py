"""The errors a client raises, in one small hierarchy rooted in ``McpError``.

::

    McpError (fastmcp_protocol)       the server answered with a JSON-RPC error:
                                      code, message and data as the server sent them
      ConnectionClosed (fastmcp_core) the server went away (or could not be started);
                                      the message says why: exit code, stderr tail
      RequestTimeout (fastmcp_core)   no answer within the request's timeout (the
                                      server was told with notifications/cancelled)
      ClientError                     raised by the client itself, never sent by a server
        ToolCallError                 call_tool(result_type=...): the tool reported failure
        UnexpectedResult              a result the client cannot use (bad structured
                                      content, an unknown ``resultType``, a cursor loop)
        IncompatibleServer            no protocol version both sides speak
        InputRequiredError            the server's requests for input cannot be met
                                      (no handler for them, or too many rounds)
        TaskFailed                    a task ended ``failed`` or ``cancelled``
    ConfigError (ValueError)          a target or MCP configuration that cannot be used;
                                      raised by ``Client(...)`` before connecting

Local errors carry codes too (``McpError`` always has one) so that code written for
server errors keeps working, but they never came from the peer.
"""

from __future__ import annotations

from typing import Any

from fastmcp_protocol import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    UNSET,
    UNSUPPORTED_PROTOCOL_VERSION,
    CallToolResult,
    McpError,
    TextContent,
)

__all__ = [
    "ClientError",
    "ConfigError",
    "IncompatibleServer",
    "InputRequiredError",
    "TaskFailed",
    "ToolCallError",
    "UnexpectedResult",
]


class ClientError(McpError):
    """An error the client raised itself (the server sent no such error)."""

    def __init__(self, message: str, code: int = INTERNAL_ERROR, data: Any = UNSET) -> None:
        super().__init__(code, message, data)


class ToolCallError(ClientError):
    """The tool ran and reported failure (``isError: true``).

    Raised only where the caller asked for a typed value (``result_type=``); plain
    ``call_tool`` returns the failed ``CallToolResult`` so the model can see it.
    ``result`` is that result; the message is its text content.
    """

    def __init__(self, tool: str, result: CallToolResult) -> None:
        text = " ".join(b.text for b in result.content if isinstance(b, TextContent)).strip()
        super().__init__(f"tool {tool!r} failed: {text or 'no message'}")
        self.tool = tool
        self.result = result


class UnexpectedResult(ClientError):
    """The server's result has a shape the client cannot use (-32602)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, INVALID_PARAMS)


class IncompatibleServer(ClientError):
    """The server speaks no protocol version this client speaks (-32022).

    ``supported`` lists what the server offered, when it said.
    """

    def __init__(self, message: str, supported: list[str] | None = None) -> None:
        super().__init__(message, UNSUPPORTED_PROTOCOL_VERSION)
        self.supported = supported or []


class InputRequiredError(ClientError):
    """The server asked for input the client cannot give, or kept asking.

    Raised when a server asks for sampling, elicitation or roots without a handler
    for it, or when a request still needs input after ``max_input_rounds`` rounds.
    """


class TaskFailed(ClientError):
    """A task ended without a result: ``status`` is ``"failed"`` or ``"cancelled"``.

    For a failed task whose request ended in a JSON-RPC error, ``code``, ``message``
    and ``data`` are that error's.
    """

    def __init__(
        self,
        task_id: str,
        status: str,
        message: str,
        code: int = INTERNAL_ERROR,
        data: Any = UNSET,
    ) -> None:
        super().__init__(message, code, data)
        self.task_id = task_id
        self.status = status


class ConfigError(ValueError):
    """A target or MCP configuration that cannot be used (raised before connecting)."""
