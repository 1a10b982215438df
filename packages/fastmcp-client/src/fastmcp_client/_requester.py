"""``Requester``: what the objects a ``Client`` hands out may ask of its connection.

A task handle (``ToolTask``) polls, cancels and answers its task's input requests; a
loaded skill (``LoadedSkill``) reads the skill's files. Neither needs the whole
``Client``: each holds the small ``Requester`` its client made for them, with
exactly those calls. So ``_tasks`` and ``_skills`` never import ``_client`` (only the
client imports them), and nothing outside the ``Client`` reaches into its private
members.

The calls are the client's own, bound: a request sent through a ``Requester`` gets
the client's ``request_timeout`` and per-request ``_meta`` as they are when it is
sent, fails with ``ConnectionClosed`` once the client is closed, and is cancelled
(the server told) when the caller's cancel scope is left, as any call of the client.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol, TypeVar

import attrs

from fastmcp_protocol import InputRequest, InputResponse, ReadResourceResult

__all__ = ["Requester"]

T = TypeVar("T")


class SendRequest(Protocol):
    """Send one request on the client's connection; its result decoded as ``result_type``.
    ``timeout`` ``None`` is the client's ``request_timeout``."""

    async def __call__(
        self, method: str, params: Any, result_type: type[T], *, timeout: float | None = None
    ) -> T: ...


@attrs.frozen
class Requester:
    """One client's requests, for the objects it hands out (see the module docstring)."""

    request: SendRequest
    """Send a request and wait for its result (``RequestTimeout``, ``ConnectionClosed``
    and the server's
    ``PeerError`` as for any call of the client)."""
    meta: Callable[[], dict[str, Any] | None]
    """The ``_meta`` every request of the connection's era carries (``None``: none)."""
    answer_inputs: Callable[[Mapping[str, InputRequest]], Awaitable[dict[str, InputResponse]]]
    """Answer input requests with the client's handlers, under their keys."""
    read_resource: Callable[[str], Awaitable[ReadResourceResult]]
    """``resources/read`` of one URI, input-required rounds answered."""
