"""The public surface: what ``fastmcp_client`` exports is what it claims to export."""

from __future__ import annotations

import pkgutil

import fastmcp_client


def test_every_name_in_all_exists_and_nothing_else_is_public() -> None:
    for name in fastmcp_client.__all__:
        assert hasattr(fastmcp_client, name), name
    public = {name for name in vars(fastmcp_client) if not name.startswith("_")}
    modules = {info.name for info in pkgutil.iter_modules(fastmcp_client.__path__)}
    assert public - set(fastmcp_client.__all__) <= modules
    assert len(fastmcp_client.__all__) == len(set(fastmcp_client.__all__))


PUBLIC_SUBPACKAGES = {"auth"}  # imported on demand, so that the client stays light


def test_implementation_modules_are_private() -> None:
    modules = [info.name for info in pkgutil.iter_modules(fastmcp_client.__path__)]
    assert modules
    assert all(name.startswith("_") for name in set(modules) - PUBLIC_SUBPACKAGES)


def test_the_errors_form_one_hierarchy() -> None:
    from fastmcp_client import (
        ClientError,
        ConnectionClosed,
        IncompatibleServer,
        InputRequiredError,
        McpError,
        RequestTimeout,
        TaskFailed,
        ToolCallError,
        UnexpectedResult,
    )

    for error in (ConnectionClosed, RequestTimeout, ClientError):
        assert issubclass(error, McpError)
    for error in (
        ToolCallError,
        UnexpectedResult,
        IncompatibleServer,
        InputRequiredError,
        TaskFailed,
    ):
        assert issubclass(error, ClientError)
