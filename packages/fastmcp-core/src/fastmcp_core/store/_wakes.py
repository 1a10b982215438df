"""Wake-ups for followers of records and logs: the in-process half of ``Watch``.

A store wakes the watches of a key when it learns that the key changed (memory: the
write itself; Redis: a hint on the bus) and wakes them all when it may have missed
such hints (a reconnection). Invariants: a watch is registered before its owner reads
what it watches, and a wake that lands between two waits is kept (the event stays
set) until the next wait returns.
"""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import attrs
import trio

__all__ = ["Wakes", "add_callback", "call_safely"]

logger = logging.getLogger("fastmcp.store")


@attrs.define(eq=False, repr=False)
class _Watch:
    _event: trio.Event = attrs.field(factory=trio.Event)

    def wake(self) -> None:
        self._event.set()

    async def wait(self, timeout: float = math.inf) -> None:
        with trio.move_on_after(timeout):
            await self._event.wait()
        if self._event.is_set():
            self._event = trio.Event()


@attrs.define(eq=False, repr=False)
class Wakes:
    """The watches of one store, by key."""

    _watches: dict[str, set[_Watch]] = attrs.field(factory=dict)

    @asynccontextmanager
    async def watch(self, key: str) -> AsyncIterator[_Watch]:
        watch = _Watch()
        self._watches.setdefault(key, set()).add(watch)
        try:
            yield watch
        finally:
            watches = self._watches.get(key)
            if watches is not None:
                watches.discard(watch)
                if not watches:
                    del self._watches[key]

    def watched(self, key: str) -> bool:
        return key in self._watches

    def wake(self, key: str) -> None:
        for watch in self._watches.get(key, ()):
            watch.wake()

    def wake_all(self) -> None:
        for watches in self._watches.values():
            for watch in watches:
                watch.wake()


def add_callback(callbacks: list[Any], callback: Any) -> Callable[[], None]:
    """Add ``callback`` to ``callbacks``; the function that removes it again."""
    callbacks.append(callback)

    def remove() -> None:
        if callback in callbacks:
            callbacks.remove(callback)

    return remove


def call_safely(callback: Callable[..., None], *args: Any) -> None:
    """Call a store callback: one that raises is logged, never the store's end."""
    try:
        callback(*args)
    except Exception:
        logger.exception("a store callback failed")
