"""fastmcp_core.store: the state that the replicas of a server share, so that any
replica serves any request.

A ``Store`` has four parts, each a small interface:

* ``records(namespace)`` (``Records``): versioned records changed only by
  compare-and-set, each owned by the replica that created or claimed it; ``watch``
  wakes a follower when one changes. Task state lives here (and, from the HTTP
  transport, legacy session records);
* ``logs`` (``EventLogs``): append-only event logs, bounded, replayable from any id
  they still hold and followed live from any replica (resumable SSE streams);
* ``bus`` (``Bus``): lossy hints for every replica (resource and list changes), and a
  reliable inbox per replica for the messages that must reach the one that runs
  something (cancel a task running there, or in the HTTP transport, frames for the
  session whose stream it holds);
* ``alive(replica)``: each replica renews a lease while it runs; a replica whose lease
  ran out is dead, and what it owned may be given up (a task: failed) or adopted.

Truth lives in records and logs; the bus's pub/sub only wakes (a follower reads again
after a wake, and after a reconnection, when wakes may have been lost, every follower
does). Two implementations: ``MemoryStore``, this process's memory (the default: one
process, no server needed, exactly as before stores existed; ``twin()`` gives replicas
in one process), and ``RedisStore`` (``pip install "fastmcp-core[redis]"``: coredis,
imported only when a Redis store is made). ``open_store(url)`` makes either from a URL.

Why here, in fastmcp_core: the store is used by two packages that do not import each
other's layers, the server (tasks, subscriptions) and the HTTP transport (legacy
sessions and their event logs); it is runtime infrastructure with no protocol or
transport knowledge (bytes in, bytes out), and fastmcp_core is the lowest package with
trio - as with ``Transport``, the interface lives below everything that consumes it.
"""

import importlib as _importlib
import typing as _typing

from fastmcp_core.store._base import (
    Bus,
    EventLogs,
    LogEvent,
    LogGap,
    Record,
    Records,
    Store,
    StoreUnavailable,
    Watch,
)
from fastmcp_core.store._open import open_store

if _typing.TYPE_CHECKING:
    from fastmcp_core.store._memory import MemoryStore
    from fastmcp_core.store._redis import RedisStore

# Loaded when first asked for: RedisStore imports coredis, and a server loads the
# MemoryStore when it makes one (importing a package that uses stores stays light).
_LAZY = {"RedisStore": "_redis", "MemoryStore": "_memory"}


if not _typing.TYPE_CHECKING:  # (for mypy, the names above and nothing else)

    def __getattr__(name: str) -> _typing.Any:
        module = _LAZY.get(name)
        if module is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(_importlib.import_module(f"fastmcp_core.store.{module}"), name)
        globals()[name] = value
        return value


__all__ = [
    "Store",
    "Records",
    "Record",
    "EventLogs",
    "LogEvent",
    "LogGap",
    "Bus",
    "Watch",
    "StoreUnavailable",
    "MemoryStore",
    "RedisStore",
    "open_store",
]
