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
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import attrs
import trio

from fastmcp_core import Peer
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

Watcher = Callable[[frozenset[str]], Awaitable[None]]


class Subscriber(Protocol):
    """A session-era connection, as the hub sees it."""

    initialized: bool
    subscriptions: set[str]
    outbox: Outbox | None


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

    # -- telling them ----------------------------------------------------------------

    def resource_updated(self, uri: str) -> None:
        method = "notifications/resources/updated"
        for subscriber in list(self.subscribers):
            if uri in subscriber.subscriptions and subscriber.outbox is not None:
                subscriber.outbox.post(method, ResourceUpdatedNotificationParams(uri=uri), uri)
        for listener in list(self.listeners):
            if listener.wants("resource", uri):
                params = ResourceUpdatedNotificationParams(uri=uri, meta=listener.tag)
                listener.outbox.post(method, params, uri)

    def list_changed(self, kind: str) -> None:
        kind = "resources" if kind == "templates" else kind
        method = f"notifications/{kind}/list_changed"
        for subscriber in list(self.subscribers):
            if subscriber.initialized and subscriber.outbox is not None:
                subscriber.outbox.post(method, NotificationParams())
        for listener in list(self.listeners):
            if listener.wants(kind):
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
        uris: set[str] = set()
        for subscriber in self.subscribers:
            uris |= subscriber.subscriptions
        for listener in self.listeners:
            uris.update(listener.filter.resource_subscriptions or ())
        return frozenset(uris)

    async def changed(self) -> None:
        """Tell the watcher, when the set of subscribed URIs changed since last time."""
        watcher = self.watcher
        if watcher is None:
            return
        now = self.resources
        if now != self._watched:
            self._watched = now
            await watcher(now)

    def changed_soon(self) -> None:
        """``changed`` for ends of subscriptions met while unwinding (maybe cancelled)."""
        if self.watcher is not None and self.background.running:
            self.background.start_soon(self.changed)
