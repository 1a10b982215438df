"""The custom routes a server declares (``Server.custom_route``), kept as plain values:
the HTTP layer makes them into ``fastmcp_transport.http_server.Route`` when it serves
them, so that ``import fastmcp_server`` stays light."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import attrs

__all__ = ["CustomRoute"]


@attrs.frozen
class CustomRoute:
    """One route of ``Server.custom_route``."""

    path: str
    handler: Callable[..., Awaitable[Any]]
    methods: tuple[str, ...]
    auth: bool
