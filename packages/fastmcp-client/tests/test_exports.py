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


def test_the_clients_own_errors_are_local() -> None:
    from fastmcp_client import (
        ClientError,
        ConfigError,
        IncompatibleServer,
        InputRequiredError,
        SkillVerificationError,
        TaskFailed,
        ToolCallError,
    )
    from fastmcp_protocol import LocalError, McpError, PeerError

    for error in (
        ToolCallError,
        IncompatibleServer,
        InputRequiredError,
        TaskFailed,
        SkillVerificationError,
    ):
        assert issubclass(error, ClientError)
    for error in (ClientError, ConfigError):
        assert issubclass(error, LocalError)
        assert not issubclass(error, PeerError)
    assert issubclass(ClientError, McpError)
    assert issubclass(ConfigError, ValueError)
