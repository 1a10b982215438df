"""Negotiation in both eras."""

from __future__ import annotations

import pytest

import fastmcp_protocol as p


def test_versions_are_ordered_newest_first() -> None:
    assert p.PROTOCOL_VERSIONS[0] == p.LATEST_PROTOCOL_VERSION == "2026-07-28"
    assert list(p.PROTOCOL_VERSIONS) == sorted(p.PROTOCOL_VERSIONS, reverse=True)
    assert p.is_modern("2026-07-28")
    assert p.is_modern("2027-01-01")
    assert all(p.is_legacy(v) for v in p.LEGACY_PROTOCOL_VERSIONS)


@pytest.mark.parametrize(
    ("requested", "chosen"),
    [
        ("2025-06-18", "2025-06-18"),
        ("2024-11-05", "2024-11-05"),
        ("2030-01-01", "2025-11-25"),  # newer than we speak in the legacy era
        ("2019-01-01", "2025-11-25"),  # unknown: offer our newest, the client decides
    ],
)
def test_legacy_negotiation(requested: str, chosen: str) -> None:
    assert p.negotiate_version(requested) == chosen


def test_negotiation_with_a_narrower_server() -> None:
    assert p.negotiate_version("2025-11-25", ["2025-06-18", "2025-03-26"]) == "2025-06-18"


def _meta(**fields: object) -> dict[str, object]:
    return {key: value for key, value in fields.items() if value is not None}


def test_modern_meta_is_checked() -> None:
    meta = p.modern_request_meta(
        client_capabilities=p.ClientCapabilities(roots=p.RootsCapability()),
        client_info=p.Implementation(name="c", version="1"),
        log_level="debug",
        progress_token=9,
        extra={"com.example/trace": "t"},
    )
    fields = p.check_request_meta(meta)
    assert fields.protocol_version == "2026-07-28"
    assert fields.client_capabilities == p.ClientCapabilities(roots=p.RootsCapability())
    assert fields.client_info == p.Implementation(name="c", version="1")
    assert fields.log_level == "debug"
    assert fields.progress_token == 9
    assert meta["com.example/trace"] == "t"


def test_modern_meta_without_version_is_invalid_params() -> None:
    with pytest.raises(p.McpError) as info:
        p.check_request_meta({p.META_CLIENT_CAPABILITIES: {}})
    assert info.value.code == p.INVALID_PARAMS
    assert p.META_PROTOCOL_VERSION in info.value.message
    with pytest.raises(p.McpError) as info:
        p.check_request_meta(None)
    assert info.value.code == p.INVALID_PARAMS


def test_modern_meta_without_capabilities_is_invalid_params() -> None:
    with pytest.raises(p.McpError) as info:
        p.check_request_meta({p.META_PROTOCOL_VERSION: "2026-07-28"})
    assert info.value.code == p.INVALID_PARAMS
    assert p.META_CLIENT_CAPABILITIES in info.value.message


def test_unsupported_modern_version_lists_the_supported_ones() -> None:
    with pytest.raises(p.McpError) as info:
        p.check_request_meta(
            {p.META_PROTOCOL_VERSION: "1900-01-01", p.META_CLIENT_CAPABILITIES: {}}
        )
    assert info.value.code == p.UNSUPPORTED_PROTOCOL_VERSION
    assert info.value.data == p.UnsupportedProtocolVersionData(
        requested="1900-01-01", supported=["2026-07-28"]
    )


def test_reserved_meta_key_of_the_wrong_type_is_invalid_params() -> None:
    with pytest.raises(p.McpError) as info:
        p.read_request_meta({p.META_LOG_LEVEL: "loud"})
    assert info.value.code == p.INVALID_PARAMS
    assert p.read_request_meta({"progressToken": "t"}).progress_token == "t"


def test_prepare_keeps_explicit_cache_hints_and_result_type() -> None:
    result = p.ListToolsResult(tools=[], ttl_ms=60_000, cache_scope="public")
    prepared = p.prepare_result(result, "2026-07-28")
    assert (prepared.ttl_ms, prepared.cache_scope, prepared.result_type) == (
        60_000,
        "public",
        "complete",
    )
    assert p.prepare_result(result, "2026-07-28", ttl_ms=5).ttl_ms == 60_000
    assert p.prepare_result(p.ListToolsResult(tools=[]), "2026-07-28", ttl_ms=5).ttl_ms == 5


def test_prepare_results_without_cache_hints() -> None:
    prepared = p.prepare_result(p.CallToolResult(content=[]), "2026-07-28")
    assert prepared.result_type == "complete"
    assert not hasattr(prepared, "ttl_ms")
    legacy = p.prepare_result(p.CallToolResult(content=[], result_type="complete"), "2025-03-26")
    assert legacy.result_type is None
