"""The errors the client raises itself: ``ClientError`` and ``ConfigError``.

Both are local errors (``fastmcp_protocol.LocalError``): the server sent no such
error. What the server answered with is a ``PeerError``; a request that got no answer
raises ``ConnectionClosed`` or ``RequestTimeout``; an answer that cannot be used,
``UnexpectedResult`` (the hierarchy, whole, is drawn in ``fastmcp_protocol._errors``)::

    ClientError (LocalError, McpError)  the client judged, or could not go on
      ToolCallError                     call_tool(result_type=...): the tool reported
                                        failure (``isError``) in its result
      IncompatibleServer                no protocol version both sides speak (-32022)
      InputRequiredError                the server's requests for input cannot be met
                                        (no handler for them, or too many rounds)
      TaskFailed                        a task ended ``failed`` or ``cancelled``
      SkillVerificationError            a skill file is not what its entry says
    ConfigError (LocalError, ValueError) a target or MCP configuration that cannot be
                                        used; raised by ``Client(...)`` before connecting

``ClientError`` carries a code too (``McpError`` always has one), so that code written
for server errors, and a proxy relaying them, keep working; the server never sent it.
"""

from __future__ import annotations

from typing import Any

from fastmcp_protocol import (
    INTERNAL_ERROR,
    UNSET,
    UNSUPPORTED_PROTOCOL_VERSION,
    CallToolResult,
    LocalError,
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
]


class ClientError(LocalError, McpError):
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


class ConfigError(LocalError, ValueError):
    """A target or MCP configuration that cannot be used (raised before connecting)."""
