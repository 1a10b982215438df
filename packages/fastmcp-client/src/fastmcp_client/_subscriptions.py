"""Subscriptions: notifications about resources and lists, as an async iterator.

Theory of operation. ``Client.subscribe`` opens a ``Subscription``; iterating it
yields the matching notifications until the subscription ends.

* Modern era (2026-07-28): one ``subscriptions/listen`` request per subscription,
  left open (no timeout) in a task of its own. The server first sends
  ``notifications/subscriptions/acknowledged`` tagged with the subscription id (the
  listen request's JSON-RPC id) and then the notifications, tagged the same way.
  The client opens one subscription at a time (a lock), so the first acknowledgment
  with an id it does not know belongs to the one being opened; from then on
  notifications are routed by that id. The subscription ends when the server answers
  the listen request (graceful end), when it sends ``notifications/cancelled`` for it,
  or when the connection closes; leaving ``async with`` cancels the listen request.
* Legacy era: ``resources/subscribe`` for each resource on entry,
  ``resources/unsubscribe`` on exit; list-changed notifications are not requested
  (servers send them to every session) but delivered when asked for.

Delivery never blocks the task that reads from the server: each subscription
buffers ``buffer`` notifications and drops (with a warning) what does not fit.
"""

from __future__ import annotations

import logging

import attrs
import trio

from fastmcp_client._handlers import IncomingNotification
from fastmcp_core import RateLimitedLog
from fastmcp_protocol import (
    PromptListChangedNotification,
    RequestId,
    ResourceListChangedNotification,
    ResourceUpdatedNotification,
    SubscriptionFilter,
    ToolListChangedNotification,
)

__all__ = ["Subscription"]

logger = logging.getLogger("fastmcp.client")


@attrs.define(eq=False)
class Subscription:
    """An open subscription; ``async for note in subscription`` yields notifications.

    Iteration ends when the subscription ends gracefully (the server closed it, or
    the client left ``async with``); it raises the error (``ConnectionClosed``,
    ``PeerError``) when it ended because of one.
    """

    requested: SubscriptionFilter
    """What the client asked for."""
    acknowledged: SubscriptionFilter | None = None
    """What the server agreed to send (modern era: its acknowledgment; legacy era:
    what was subscribed). ``None`` until acknowledged."""
    subscription_id: RequestId | None = None
    """The id notifications are tagged with (modern era)."""
    buffer: int = 256
    _send: trio.MemorySendChannel[IncomingNotification] = attrs.field(init=False)
    _receive: trio.MemoryReceiveChannel[IncomingNotification] = attrs.field(init=False)
    _error: BaseException | None = attrs.field(init=False, default=None)
    _acked: trio.Event = attrs.field(init=False, factory=trio.Event)
    _dropped: RateLimitedLog = attrs.field(init=False, factory=lambda: RateLimitedLog(logger))

    def __attrs_post_init__(self) -> None:
        self._send, self._receive = trio.open_memory_channel[IncomingNotification](self.buffer)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> IncomingNotification:
        try:
            return await self._receive.receive()
        except (trio.EndOfChannel, trio.ClosedResourceError):
            if self._error is not None:
                raise self._error from None
            raise StopAsyncIteration from None

    def wants(self, note: IncomingNotification) -> bool:
        """Whether this (legacy) subscription asked for ``note``."""
        f = self.requested
        if isinstance(note, ResourceUpdatedNotification):
            return note.params.uri in (f.resource_subscriptions or ())
        if isinstance(note, ToolListChangedNotification):
            return bool(f.tools_list_changed)
        if isinstance(note, PromptListChangedNotification):
            return bool(f.prompts_list_changed)
        if isinstance(note, ResourceListChangedNotification):
            return bool(f.resources_list_changed)
        return False

    def deliver(self, note: IncomingNotification) -> None:
        """Queue ``note`` for the iterator; drops it when the buffer is full."""
        try:
            self._send.send_nowait(note)
        except trio.WouldBlock:
            self._dropped.log(
                "subscription %r: its buffer is full (the iterator is not keeping up); "
                "dropped a %s",
                self.subscription_id,
                type(note).__name__,
            )
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            pass

    def acknowledge(self, subscription_id: RequestId, accepted: SubscriptionFilter) -> None:
        self.subscription_id = subscription_id
        self.acknowledged = accepted
        self._acked.set()

    def end(self, error: BaseException | None = None) -> None:
        """End the subscription: the iterator drains what is queued, then stops
        (or raises ``error``)."""
        if error is not None and self._error is None:
            self._error = error
        self._send.close()
        self._acked.set()  # wakes an opener that still waits for the acknowledgment

    @property
    def failed(self) -> BaseException | None:
        return self._error

    async def wait_acknowledged(self) -> None:
        await self._acked.wait()
