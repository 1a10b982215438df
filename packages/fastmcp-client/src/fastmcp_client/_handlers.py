"""What the client answers when a server asks: sampling, elicitation, roots; and the
callbacks for what a server tells (log messages, other notifications).

The same ``Responder`` answers in both eras: a server-to-client JSON-RPC request in
the legacy era (routed by ``ServerRequests``, the client's session dispatcher), an
entry of ``inputRequests`` in the modern era (multi round-trip requests and task
input). Capabilities are declared from the handlers that were given, so a server
never asks for what the client cannot do.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeAlias

import attrs
import msgspec
import trio

from fastmcp_client._errors import InputRequiredError
from fastmcp_core import McpContext, is_async_callable
from fastmcp_protocol import (
    METHOD_NOT_FOUND,
    METHODS,
    CreateMessageRequest,
    CreateMessageRequestParams,
    CreateMessageResult,
    ElicitationCapability,
    ElicitationCompleteNotification,
    ElicitRequest,
    ElicitRequestFormParams,
    ElicitRequestURLParams,
    ElicitResult,
    InputRequest,
    InputResponse,
    JSONRPCNotification,
    JSONRPCRequest,
    ListRootsRequest,
    ListRootsResult,
    LoggingMessageNotificationParams,
    McpError,
    PromptListChangedNotification,
    ResourceListChangedNotification,
    ResourceUpdatedNotification,
    Result,
    Root,
    RootsCapability,
    SamplingCapability,
    ServerNotification,
    TaskStatusNotification,
    TextContent,
    ToolListChangedNotification,
    decode_params,
)

__all__ = [
    "ElicitationHandler",
    "LogHandler",
    "IncomingNotification",
    "NotificationHandler",
    "RootsHandler",
    "SamplingHandler",
    "python_logging",
]

logger = logging.getLogger("fastmcp.client")

SamplingHandler: TypeAlias = Callable[
    [CreateMessageRequestParams],
    Awaitable[CreateMessageResult | str] | CreateMessageResult | str,
]
"""Answers ``sampling/createMessage``. Return a ``CreateMessageResult``, or just the
text of the assistant's reply (``model`` is then ``"unknown"``). Raise ``McpError``
to refuse with that error (legacy era) or to fail the original request (modern era).
An ``async def`` runs in the client's task; a plain ``def`` runs in a worker thread
(it may block: calling a model's SDK, asking a person), abandoned if the request is
cancelled. The same holds for the elicitation and roots handlers."""

ElicitationHandler: TypeAlias = Callable[
    [ElicitRequestFormParams | ElicitRequestURLParams],
    Awaitable[ElicitResult | Mapping[str, Any]] | ElicitResult | Mapping[str, Any],
]
"""Answers ``elicitation/create`` in form mode (``ElicitRequestFormParams``) or URL
mode (``ElicitRequestURLParams``). Return an ``ElicitResult``, or a mapping of form
values (accepted). For an accepted form, fields the handler left out get the
schema's ``default`` values (SEP-1034) unless the client was made with
``elicitation_defaults=False``."""

RootsHandler: TypeAlias = Callable[[], Awaitable[Sequence[Root]] | Sequence[Root]]
"""Answers ``roots/list`` with the client's current roots."""

LogHandler: TypeAlias = Callable[[LoggingMessageNotificationParams], Awaitable[None] | None]
"""Receives the server's log messages (``notifications/message``), in order, in the
task that reads from the server: an ``async def`` is awaited, a plain ``def`` is
called inline (return quickly)."""

IncomingNotification: TypeAlias = (
    ServerNotification | TaskStatusNotification | ElicitationCompleteNotification
)
"""A notification from the server, typed (see ``fastmcp_protocol``)."""

NotificationHandler: TypeAlias = Callable[[IncomingNotification], Awaitable[None] | None]
"""Receives every notification that is not a log message, progress or an answer to
a subscription (list changes, resource updates, task status, ...). It runs in the
task that reads from the server (sync or async, like ``LogHandler``): return quickly
(start work elsewhere)."""

# -- log messages --------------------------------------------------------------------------

_PY_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "notice": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
    "alert": logging.CRITICAL,
    "emergency": logging.CRITICAL,
}
_server_log = logging.getLogger("fastmcp.server_log")


async def python_logging(params: LoggingMessageNotificationParams) -> None:
    """The default log handler: the ``fastmcp.server_log`` logger (a child per server
    logger name), at the Python level matching the MCP level. Nothing is formatted
    unless that level is enabled."""
    target = _server_log if params.logger is None else _server_log.getChild(params.logger)
    level = _PY_LEVELS.get(params.level, logging.INFO)
    if target.isEnabledFor(level):
        target.log(level, "%s", params.data)


# -- answering the server ------------------------------------------------------------------


def as_roots(roots: Sequence[Root | str | Path]) -> list[Root]:
    """Roots from ``Root`` values, ``file://`` URIs or local paths (made absolute)."""
    out: list[Root] = []
    for root in roots:
        if isinstance(root, Root):
            out.append(root)
        elif isinstance(root, str) and root.startswith("file://"):
            out.append(Root(uri=root))
        else:
            path = Path(root).resolve()
            out.append(Root(uri=path.as_uri(), name=path.name or None))
    return out


async def _answer(handler: Callable[..., Any], *args: Any) -> Any:
    """Run a handler that answers the server: ``async def`` here, a plain ``def`` in a
    worker thread (abandoned on cancellation); an awaitable it returns is awaited."""
    if is_async_callable(handler):
        return await handler(*args)
    result = await trio.to_thread.run_sync(
        functools.partial(handler, *args), abandon_on_cancel=True
    )
    if inspect.isawaitable(result):
        result = await result
    return result


def _form_defaults(params: ElicitRequestFormParams) -> dict[str, Any]:
    return {
        name: field["default"]
        for name, field in params.requested_schema.properties.items()
        if isinstance(field, dict) and "default" in field
    }


@attrs.define(eq=False)
class Responder:
    """Answers the server's questions with the handlers given to the client."""

    sampling: SamplingHandler | None = None
    elicitation: ElicitationHandler | None = None
    roots_handler: RootsHandler | None = None
    roots: list[Root] | None = None
    elicitation_defaults: bool = True

    @property
    def has_roots(self) -> bool:
        return self.roots_handler is not None or self.roots is not None

    def capabilities(self) -> dict[str, Any]:
        """The capability fields these handlers justify (and no others)."""
        caps: dict[str, Any] = {}
        if self.sampling is not None:
            caps["sampling"] = SamplingCapability()
        if self.elicitation is not None:
            caps["elicitation"] = ElicitationCapability(form={}, url={})
        if self.has_roots:
            caps["roots"] = RootsCapability(list_changed=True)
        return caps

    async def sample(self, params: CreateMessageRequestParams) -> CreateMessageResult:
        if self.sampling is None:
            raise InputRequiredError(
                "the server asked for sampling, but no sampling_handler was given"
            )
        answer: CreateMessageResult | str = await _answer(self.sampling, params)
        if isinstance(answer, str):
            return CreateMessageResult(
                role="assistant", content=TextContent(text=answer), model="unknown"
            )
        return answer

    async def elicit(
        self, params: ElicitRequestFormParams | ElicitRequestURLParams
    ) -> ElicitResult:
        if self.elicitation is None:
            raise InputRequiredError(
                "the server asked for elicitation, but no elicitation_handler was given"
            )
        answer = await _answer(self.elicitation, params)
        if not isinstance(answer, ElicitResult):
            answer = ElicitResult(action="accept", content=dict(answer))
        if (
            self.elicitation_defaults
            and answer.action == "accept"
            and isinstance(params, ElicitRequestFormParams)
        ):
            defaults = _form_defaults(params)
            content = answer.content or {}
            if any(name not in content for name in defaults):
                answer = msgspec.structs.replace(answer, content={**defaults, **content})
        return answer

    async def list_roots(self) -> ListRootsResult:
        if self.roots_handler is not None:
            return ListRootsResult(roots=list(await _answer(self.roots_handler)))
        if self.roots is None:
            raise InputRequiredError("the server asked for roots, but no roots were given")
        return ListRootsResult(roots=self.roots)

    async def answer(self, request: InputRequest) -> InputResponse:
        """The client's result for one input request (of any of the three kinds)."""
        if isinstance(request, CreateMessageRequest):
            return await self.sample(request.params)
        if isinstance(request, ElicitRequest):
            return await self.elicit(request.params)
        return await self.list_roots()

    async def answer_all(self, requests: Mapping[str, InputRequest]) -> dict[str, InputResponse]:
        """Answers to several input requests, under their keys; the handlers run
        concurrently. The first handler to raise cancels the others and its error
        propagates."""
        answers: dict[str, InputResponse] = {}

        async def one(key: str, request: InputRequest) -> None:
            answers[key] = await self.answer(request)

        if len(requests) == 1:
            ((key, request),) = requests.items()
            await one(key, request)
            return answers
        try:
            async with trio.open_nursery() as nursery:
                for key, request in requests.items():
                    nursery.start_soon(one, key, request)
        except BaseExceptionGroup as group:
            raise collapse(group) from None
        return answers


def collapse(group: BaseExceptionGroup[Any]) -> BaseException:
    """The one exception a group of one holds (nested groups flattened); the group
    itself when it holds several."""
    exc: BaseException = group
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


# -- the client's session dispatcher -------------------------------------------------------

_REQUEST_TYPES: dict[str, type] = {
    "sampling/createMessage": CreateMessageRequest,
    "elicitation/create": ElicitRequest,
    "roots/list": ListRootsRequest,
}
_NOTIFICATION_TYPES: dict[str, type] = {
    "notifications/tools/list_changed": ToolListChangedNotification,
    "notifications/prompts/list_changed": PromptListChangedNotification,
    "notifications/resources/list_changed": ResourceListChangedNotification,
    "notifications/resources/updated": ResourceUpdatedNotification,
}


def typed_notification(note: JSONRPCNotification) -> IncomingNotification | None:
    """The typed form of a server notification; ``None`` for unknown methods.

    Raises ``McpError`` (-32602) when its params do not fit the method.
    """
    spec = METHODS.get(note.method)
    if spec is None or spec.kind != "notification":
        return None
    params = decode_params(note.params, spec.params)  # absent params read as {}
    return spec.message(params=params)  # type: ignore[no-any-return]


@attrs.define(eq=False)
class ServerRequests:
    """The client's ``Dispatcher``: answers server-to-client requests (legacy era)
    and hands notifications to ``on_notification``.

    ``version`` is read on every request so answers are shaped for the version the
    client negotiated (it changes once, during connection).
    """

    responder: Responder
    on_notification: Callable[[JSONRPCNotification], Awaitable[None]]
    version: Callable[[], str]

    async def route(self, ctx: McpContext, request: JSONRPCRequest) -> Callable[[], Awaitable[Any]]:
        ctx.protocol_version = self.version()
        method = request.method
        if method == "ping":

            async def pong() -> Result:
                return Result()

            return pong
        kind = _REQUEST_TYPES.get(method)
        if kind is None:
            raise McpError(METHOD_NOT_FOUND, f"Method not found: {method}")
        params = decode_params(request.params, METHODS[method].params)
        input_request: InputRequest = kind(params=params)

        async def answer() -> Result:
            return await self.responder.answer(input_request)

        return answer

    async def notification(self, note: JSONRPCNotification) -> None:
        await self.on_notification(note)
