"""Calling functions a user hands to the framework, whether they are sync or async.

Two rules, one per kind of callback:

* ``call_callback``: callbacks that observe (progress, log messages, notifications)
  are called in the task that received the message, in order: a sync one runs
  inline (it must be quick), an async one is awaited, and a sync function that
  returns an awaitable (a ``lambda`` around an ``async def``) has it awaited.
* handlers that answer a question and may take long (a human typing an answer, a
  blocking LLM SDK) decide for themselves with ``is_async_callable``: a sync one goes
  to a worker thread (see ``fastmcp_client`` and ``fastmcp_server``).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

__all__ = ["call_callback", "is_async_callable"]

T = TypeVar("T")


def is_async_callable(fn: object) -> bool:
    """Whether calling ``fn`` starts a coroutine: an ``async def`` function, a
    ``functools.partial`` of one, or an object whose ``__call__`` is ``async def``."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    return inspect.iscoroutinefunction(fn) or (
        callable(fn) and inspect.iscoroutinefunction(type(fn).__call__)
    )


async def call_callback(fn: Callable[..., T | Awaitable[T]], *args: Any) -> T:
    """``fn(*args)``, awaited when it returns an awaitable (see the module docstring)."""
    result = fn(*args)
    if inspect.isawaitable(result):
        return await result
    return result
