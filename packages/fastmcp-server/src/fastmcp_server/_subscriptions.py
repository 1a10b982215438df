"""Who listens for what, and telling them: resource updates and list changes.

Two kinds of subscriber, one per protocol era:

* a session-era connection (2025-11-25 and older) gets every ``list_changed`` once
  it is initialized, and ``resources/updated`` for the URIs it subscribed to with
  ``resources/subscribe``;
* a 2026-07-28 ``subscriptions/listen`` stream (a ``Listener``) gets what its filter
  names, tagged with its subscription id and related to its request.

Each subscriber has its own ``Outbox`` (``fastmcp_server._outbox``): telling them
only posts, so no subscriber waits on another and the notifier waits on none. The
hub also keeps the set of subscribed URIs and calls the server's watcher (set with
``Server.on_subscriptions_changed``) when it changes.

Mounted servers. The hub of a server mounted under a prefix hears of the parent's
subscriptions to its resources (``scheme://prefix/rest``, as ``scheme://rest``: they
count as its own, and its watcher is told), and an update it announces reaches the
parent's subscribers under the parent's name for it.

Replicas. Subscribers are held where their stream is open, so a change told to one
replica must reach the listeners of all: the hub posts to its own subscribers at once,
then publishes the change as a hint on the store's bus (``attach``); every other
replica's hub posts it to its own subscribers. Hints are lossy (a "look again" that
was missed is harmless only if it is made up for): when the store says hints may
have been lost (``on_resync``, after an outage), the hub tells every subscriber that
every list changed and every subscribed resource was updated. Publishing waits on
nobody: one task sends what is pending, each change once (as an outbox does), and a
store that cannot be reached only costs the other replicas' listeners that hint.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Literal, Protocol

import attrs
import msgspec
import trio

from fastmcp_core import Peer
from fastmcp_core.store import Bus, StoreUnavailable
from fastmcp_protocol import (
    META_SUBSCRIPTION_ID,
    NotificationParams,
    RequestId,
    ResourceUpdatedNotificationParams,
    SubscriptionFilter,
)
from fastmcp_server._background import Background
from fastmcp_server._outbox import Outbox

__all__ = ["Listener", "Subscriber", "Subscriptions"]

logger = logging.getLogger("fastmcp.subscriptions")

Watcher = Callable[[frozenset[str]], Awaitable[None]]
HINTS = "subscriptions"
"""The bus topic of the hints: ``["resource", uri]`` or ``["list", kind]`` (JSON)."""
_LISTS = ("tools", "prompts", "resources")
_Hint = tuple[Literal["resource", "list"], str]
_HINT = msgspec.json.Decoder(_Hint)


class Subscriber(Protocol):
    """A session-era connection, as the hub sees it."""

    @property
    def initialized(self) -> bool: ...

    subscriptions: set[str]
    outbox: Outbox | None

    @property
    def session(self) -> Peer | None: ...


@attrs.define(eq=False, repr=False)
class Listener:
    """One open ``subscriptions/listen`` stream."""

    session: Peer
    request_id: RequestId
    filter: SubscriptionFilter
    outbox: Outbox
    closed: trio.Event = attrs.field(factory=trio.Event)

    @property
    def tag(self) -> dict[str, Any]:
        return {META_SUBSCRIPTION_ID: self.request_id}

    def wants(self, kind: str, uri: str | None = None) -> bool:
        f = self.filter
        if kind == "tools":
            return bool(f.tools_list_changed)
        if kind == "prompts":
            return bool(f.prompts_list_changed)
        if kind == "resources":
            return bool(f.resources_list_changed)
        return uri is not None and uri in (f.resource_subscriptions or ())


@attrs.define(eq=False, repr=False)
class Subscriptions:
    """The subscribers of one server (see the module docstring)."""

    background: Background
    subscribers: set[Subscriber] = attrs.field(factory=set)
    listeners: set[Listener] = attrs.field(factory=set)
    watcher: Watcher | None = None
    _watched: frozenset[str] = attrs.field(init=False, factory=frozenset)
    mounted: list[tuple[Subscriptions, Callable[[str], str | None]]] = attrs.field(
        init=False, factory=list
    )
    """The hubs of mounted servers, each with how a URI here is named there."""
    inherited: frozenset[str] = attrs.field(init=False, factory=frozenset)
    """What the servers this one is mounted in are subscribed to, in its own names."""
    announce: list[Callable[[str], None]] = attrs.field(init=False, factory=list)
    """Where an update is announced besides here (the servers this one is mounted in)."""
    _bus: Bus | None = attrs.field(init=False, default=None)
    _outgoing: dict[_Hint, None] = attrs.field(init=False, factory=dict)
    _publishing: bool = attrs.field(init=False, default=False)

    # -- the other replicas ----------------------------------------------------------

    def attach(self, bus: Bus) -> Callable[[], None]:
        """Share changes with the other replicas on ``bus`` while the server runs
        (see the module docstring); returns the function that stops it."""
        self._bus = bus
        stops = [bus.subscribe(HINTS, self._hinted), bus.on_resync(self.resync)]

        def detach() -> None:
            self._bus = None
            self._outgoing.clear()
            for stop in stops:
                stop()

        return detach

    def _share(self, hint: _Hint) -> None:
        if self._bus is None or not self.background.running:
            return
        self._outgoing[hint] = None
        if not self._publishing:
            self._publishing = True
            self.background.start_soon(self._publish)

    async def _publish(self) -> None:
        try:
            while self._outgoing and self._bus is not None:
                hint = next(iter(self._outgoing))
                del self._outgoing[hint]
                try:
                    await self._bus.publish(HINTS, msgspec.json.encode(hint))
                except StoreUnavailable as exc:  # those replicas resync when it is back
                    logger.debug("a change was not shared with the other replicas: %s", exc)
        finally:
            self._publishing = False

    def _hinted(self, data: bytes) -> None:
        try:
            kind, value = _HINT.decode(data)
        except msgspec.ValidationError:
            logger.warning("an unreadable hint on the bus was dropped: %r", data[:100])
            return
        if kind == "resource":
            self._tell_resource_updated(value)
        else:
            self._tell_list_changed(value)

    def resync(self) -> None:
        """Tell every subscriber to look again at everything (hints may have been
        missed): every list changed, every subscribed resource updated."""
        for kind in _LISTS:
            self._tell_list_changed(kind)
        for uri in self.resources:
            self._tell_resource_updated(uri)

    # -- telling them ----------------------------------------------------------------

    def resource_updated(self, uri: str) -> None:
        """Tell the subscribers of ``uri``, here, in the servers this one is mounted in
        and on the other replicas."""
        for announce in self.announce:
            announce(uri)
        self._tell_resource_updated(uri)
        self._share(("resource", uri))

    def list_changed(self, kind: str, only: Subscriber | None = None) -> None:
        """Tell every subscriber that the list of ``kind`` changed, here and on the
        other replicas (only the one connection ``only`` and its
        ``subscriptions/listen`` streams, if given: its own view changed)."""
        kind = "resources" if kind == "templates" else kind
        self._tell_list_changed(kind, only)
        if only is None:
            self._share(("list", kind))

    def _tell_resource_updated(self, uri: str) -> None:
        method = "notifications/resources/updated"
        for subscriber in list(self.subscribers):
            if uri in subscriber.subscriptions and subscriber.outbox is not None:
                subscriber.outbox.post(method, ResourceUpdatedNotificationParams(uri=uri), uri)
        for listener in list(self.listeners):
            if listener.wants("resource", uri):
                params = ResourceUpdatedNotificationParams(uri=uri, meta=listener.tag)
                listener.outbox.post(method, params, uri)

    def _tell_list_changed(self, kind: str, only: Subscriber | None = None) -> None:
        method = f"notifications/{kind}/list_changed"
        for subscriber in [only] if only is not None else list(self.subscribers):
            if subscriber.initialized and subscriber.outbox is not None:
                subscriber.outbox.post(method, NotificationParams())
        session = None if only is None else only.session
        for listener in list(self.listeners):
            if listener.wants(kind) and (only is None or listener.session is session):
                listener.outbox.post(method, NotificationParams(meta=listener.tag))

    def end_listeners(self, session: Peer | None = None) -> None:
        """End every ``subscriptions/listen`` stream (of ``session`` only, if given):
        each is answered as usual."""
        for listener in list(self.listeners):
            if session is None or listener.session is session:
                listener.closed.set()

    # -- what is subscribed ----------------------------------------------------------

    @property
    def resources(self) -> frozenset[str]:
        uris: set[str] = set(self.inherited)
        for subscriber in self.subscribers:
            uris |= subscriber.subscriptions
        for listener in self.listeners:
            uris.update(listener.filter.resource_subscriptions or ())
        return frozenset(uris)

    async def changed(self) -> None:
        """Tell the watcher, when the set of subscribed URIs changed since last time
        (and the mounted servers' hubs, theirs)."""
        watcher = self.watcher
        if watcher is None and not self.mounted:
            return
        now = self.resources
        if now != self._watched:
            self._watched = now
            if watcher is not None:
                await watcher(now)
            for hub, rename in self.mounted:
                hub.inherited = frozenset(inner for inner in map(rename, now) if inner is not None)
                await hub.changed()

    def changed_soon(self) -> None:
        """``changed`` for ends of subscriptions met while unwinding (maybe cancelled)."""
        if (self.watcher is not None or self.mounted) and self.background.running:
            self.background.start_soon(self.changed)
