"""The state of one connection: which protocol era each request speaks, and how far
the session era's handshake has gone.

Theory of operation. Two eras share a connection's stream:

* a 2026-07-28 request names its version and capabilities in ``params._meta``
  (``io.modelcontextprotocol/protocolVersion``) and needs no handshake;
* a request of the session era (2025-11-25 and older) needs ``initialize`` first.

Which eras a connection takes is fixed when it is made (``Accepts``): stdio and
in-memory connections take both (a client probes with ``server/discover`` and may
fall back to ``initialize`` on the same stream); a legacy HTTP session only the
session era; a 2026-07-28 HTTP request only the modern one. For a connection that
takes both, each request's era is decided from its decoded ``_meta`` - the key is
there or it is not - never from the bytes of the request.

The session era's handshake, every transition in the table below (events in the
order the engine reads them: ``read`` is ``initialize`` read from the stream,
``answered``/``refused`` its routing ending, ``initialized`` the client's
notification):

===============  ===============  ============  ====================================
phase            event            next phase    what it means
===============  ===============  ============  ====================================
NEW              read             INITIALIZING  the requests read after it wait
INITIALIZING     answered         NEGOTIATED    the version and client are known
INITIALIZING     refused          NEW           a bad ``initialize``: try again
NEGOTIATED       initialized      READY         list changes are sent from now on
===============  ===============  ============  ====================================

Anything else is no transition: an ``initialize`` read past NEW is answered -32600
("already initialized"); a session-era request other than ``initialize`` and
``ping`` in NEW is -32600 ("not initialized"); ``initialized`` before NEGOTIATED is
ignored. Requests read while INITIALIZING wait until it settles (a client may send
them before it has the answer; routing is concurrent), so they see the negotiated
version.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

import attrs
import trio

from fastmcp_protocol import (
    INVALID_REQUEST,
    META_PROTOCOL_VERSION,
    ClientCapabilities,
    Implementation,
    LoggingLevel,
    McpError,
    RequestId,
)

__all__ = ["Accepts", "ConnectionState", "Era", "Phase"]


class Era(enum.Enum):
    MODERN = "2026-07-28 and later: per request"
    SESSION = "2025-11-25 and older: initialize first"


class Accepts(enum.Enum):
    """The eras a connection takes (fixed when it is made)."""

    BOTH = "both"
    MODERN_ONLY = "modern only"
    SESSION_ONLY = "session only"


class Phase(enum.Enum):
    NEW = "new"
    INITIALIZING = "initializing"
    NEGOTIATED = "negotiated"
    READY = "ready"


_TRANSITIONS: Mapping[tuple[Phase, str], Phase] = {
    (Phase.NEW, "read"): Phase.INITIALIZING,
    (Phase.INITIALIZING, "answered"): Phase.NEGOTIATED,
    (Phase.INITIALIZING, "refused"): Phase.NEW,
    (Phase.NEGOTIATED, "initialized"): Phase.READY,
}

_NO_HANDSHAKE_NEEDED = frozenset({"initialize", "ping"})


@attrs.define(eq=False, repr=False)
class ConnectionState:
    """One connection's era rules and handshake (see the module docstring)."""

    accepts: Accepts = Accepts.BOTH
    phase: Phase = Phase.NEW
    version: str | None = None
    """The version ``initialize`` negotiated (session era; ``None`` before)."""
    client_info: Implementation | None = None
    client_capabilities: ClientCapabilities = attrs.field(factory=ClientCapabilities)
    log_level: LoggingLevel | None = "info"
    _initializer: RequestId | None = attrs.field(init=False, default=None)
    _settled: trio.Event = attrs.field(init=False, factory=trio.Event)

    def __attrs_post_init__(self) -> None:
        self._settled.set()

    def _to(self, event: str) -> bool:
        following = _TRANSITIONS.get((self.phase, event))
        if following is None:
            return False
        self.phase = following
        return True

    # -- eras ------------------------------------------------------------------------

    def era_of(self, meta: Mapping[str, Any] | None) -> Era:
        """The era of a request whose ``params._meta`` is ``meta`` (decoded)."""
        if self.accepts is Accepts.MODERN_ONLY:
            return Era.MODERN
        if self.accepts is Accepts.SESSION_ONLY:
            return Era.SESSION
        return Era.MODERN if meta is not None and META_PROTOCOL_VERSION in meta else Era.SESSION

    # -- the handshake ---------------------------------------------------------------

    def read(self, request_id: RequestId, method: str) -> None:
        """A request was read (called in arrival order, before routing)."""
        if method == "initialize" and self._to("read"):
            self._initializer = request_id
            self._settled = trio.Event()

    @property
    def settling(self) -> bool:
        """Whether an ``initialize`` is under way: only then may a request have to
        wait for it (``settled``) or its routing end it (``routed``)."""
        return self.phase is Phase.INITIALIZING

    async def settled(self, request_id: RequestId) -> None:
        """Wait, unless this is the ``initialize`` under way, for it to settle."""
        if self.settling and request_id != self._initializer:
            await self._settled.wait()

    def routed(self, request_id: RequestId) -> None:
        """The routing of a request ended: an ``initialize`` under way that did not
        reach ``negotiated`` was refused."""
        if request_id == self._initializer and self.settling:
            self._to("refused")
            self._end_initializing()

    def check_initialize(self, request_id: RequestId) -> None:
        """-32600 for an ``initialize`` that is not the one the handshake waits for."""
        if self.phase is not Phase.INITIALIZING or request_id != self._initializer:
            raise McpError(INVALID_REQUEST, "Invalid request: the session is already initialized")

    def negotiated(
        self, version: str, client_info: Implementation, capabilities: ClientCapabilities
    ) -> None:
        self.version = version
        self.client_info = client_info
        self.client_capabilities = capabilities
        self._to("answered")
        self._end_initializing()

    async def initialized(self) -> None:
        """The client's ``notifications/initialized`` (read maybe before ``initialize``
        was routed: then once it settles)."""
        await self._settled.wait()
        self._to("initialized")

    def check_session_request(self, method: str) -> None:
        """-32600 for a session-era request before the handshake (``initialize`` and
        ``ping`` excepted)."""
        if self.version is None and method not in _NO_HANDSHAKE_NEEDED:
            raise McpError(INVALID_REQUEST, "Invalid request: the session is not initialized")

    @property
    def ready(self) -> bool:
        """Whether the client said it is initialized (list changes go to it)."""
        return self.phase is Phase.READY

    def _end_initializing(self) -> None:
        self._initializer = None
        self._settled.set()
