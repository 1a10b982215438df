"""What a hostile or broken client gets: raw HTTP/1.1 against a real server."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
import trio
from http_server_support import (
    Recorder,
    http_request,
    initialize_body,
    legacy_headers,
    modern_headers,
    raw,
    serving,
    tool_call,
)

from fastmcp_core import Transport
from fastmcp_transport import HttpConnectionInfo
from fastmcp_transport.http_server import DnsRebindingProtection

pytestmark = pytest.mark.usefixtures("http_server")  # on both servers

ECHO = tool_call(1, "echo", text="ok")


def _post(
    headers: dict[str, str] | list[tuple[str, str]], content: bytes = ECHO, **kw: Any
) -> bytes:
    return http_request("POST", "/mcp", headers, content, **kw)


@pytest.mark.parametrize(
    ("host", "origin", "allowed"),
    [
        ("127.0.0.1:8000", None, True),
        ("localhost:1234", "http://localhost:5173", True),
        ("[::1]:8000", "https://[::1]", True),
        ("localhost", "http://127.0.0.1:3000", True),
        ("evil.example.com", "http://evil.example.com", False),
        ("evil.example.com", None, False),
        ("127.0.0.1:8000", "http://evil.example.com", False),
        ("127.0.0.1:8000", "null", False),
        ("127.0.0.1.evil.example.com", None, False),
    ],
)
async def test_dns_rebinding_protection_checks_host_and_origin(
    host: str, origin: str | None, allowed: bool
) -> None:
    recorder = Recorder()
    async with serving(recorder) as served:
        headers = [("Host", host), *modern_headers("tools/call", "echo").items()]
        if origin is not None:
            headers.append(("Origin", origin))
        status, _, content = await raw(served.port, _post(headers))
        if allowed:
            assert status == 200
            return
        assert status == 403
        error = msgspec.json.decode(content)
        assert "id" not in error
        assert error["error"]["message"].startswith("Forbidden")
        assert recorder.infos == []  # refused before anything ran
        # and no session is opened that way either
        headers = [("Host", host), *legacy_headers().items()]
        if origin is not None:
            headers.append(("Origin", origin))
        status, _, _ = await raw(served.port, _post(headers, initialize_body()))
        assert status == 403
        assert served.app.session_count == 0


async def test_allow_lists_are_configurable() -> None:
    security = DnsRebindingProtection(
        allowed_hosts=["mcp.example.com"], allowed_origins=["https://app.example.com"]
    )
    async with serving(security=security) as served:
        base = list(modern_headers("tools/call", "echo").items())
        ok = [("Host", "mcp.example.com"), ("Origin", "https://app.example.com:8443"), *base]
        assert (await raw(served.port, _post(ok)))[0] == 200
        local = [("Host", "127.0.0.1"), *base]
        assert (await raw(served.port, _post(local)))[0] == 403
    async with serving(security=None) as served:
        anything = [("Host", "whatever.example"), ("Origin", "http://evil.example"), *base]
        assert (await raw(served.port, _post(anything)))[0] == 200


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"content-type": "text/plain"}, 415),
        ({"content-type": "application/x-www-form-urlencoded"}, 415),
        ({"content-type": "application/json; charset=utf-8"}, 200),
        ({"accept": "text/html"}, 406),
        ({"accept": "*/*"}, 200),
        ({"accept": "application/*;q=0.5"}, 200),
        ({"accept": "application/json;q=0, text/event-stream;q=0"}, 406),
    ],
)
async def test_content_type_and_accept(change: dict[str, str], status: int) -> None:
    async with serving() as served:
        headers = modern_headers("tools/call", "echo") | change
        got, _, content = await raw(served.port, _post(headers))
        assert got == status
        if status >= 400:
            assert msgspec.json.decode(content)["error"]["code"] == -32600


async def test_oversized_bodies_are_refused_with_413() -> None:
    recorder = Recorder()
    async with serving(recorder, max_body_size=1000) as served:
        headers = modern_headers("tools/call", "echo")
        # declared too large: refused before the body is read
        declared = {**headers, "content-length": "1000000"}
        request = http_request("POST", "/mcp", declared)
        status, _, content = await raw(served.port, request)
        assert status == 413
        assert b"1000 bytes" in content
        # chunked, no length announced: refused once it grows past the limit
        chunk = b"x" * 600
        chunked = (
            http_request("POST", "/mcp", {**headers, "transfer-encoding": "chunked"}).replace(
                b"Content-Length: 0\r\n", b""
            )
            + b"%x\r\n%s\r\n" % (len(chunk), chunk) * 2
            + b"0\r\n\r\n"
        )
        status, _, _ = await raw(served.port, chunked)
        assert status == 413
        assert recorder.infos == []
        # just under the limit is fine
        small = tool_call(1, "echo", text="y" * 500)
        assert len(small) < 1000
        assert (await raw(served.port, _post(headers, small)))[0] == 200


async def test_a_truncated_body_harms_nothing() -> None:
    recorder = Recorder()
    async with serving(recorder) as served:
        request = _post(modern_headers("tools/call", "echo"))
        stream = await trio.open_tcp_stream("127.0.0.1", served.port)
        await stream.send_all(request[: len(request) - 10])  # the body's end never comes
        await stream.aclose()
        status, _, _ = await raw(served.port, request)
        assert status == 200
        assert len(recorder.infos) == 1  # only the complete request reached a handler


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"{not json", -32700),
        (b"", -32700),
        (b'\xff\xfe{"jsonrpc":"2.0"}', -32700),
        (b'{"jsonrpc":"2.0","id":1}', -32600),
        (b'{"jsonrpc":"1.0","id":1,"method":"x"}', -32600),
        (b"[]", -32600),
    ],
)
async def test_malformed_messages_get_400_and_a_jsonrpc_error(content: bytes, code: int) -> None:
    async with serving() as served:
        status, headers, body = await raw(served.port, _post(modern_headers("tools/call"), content))
        assert status == 400
        assert headers["content-type"] == "application/json"
        assert msgspec.json.decode(body)["error"]["code"] == code


async def test_header_values_outside_ascii_must_be_encoded() -> None:
    async with serving() as served:
        headers = [*modern_headers("tools/call").items(), ("Mcp-Name", "caf\xe9")]
        status, _, body = await raw(served.port, _post(headers, tool_call(1, "caf\xe9")))
        assert status == 400
        assert msgspec.json.decode(body)["error"]["code"] == -32020


async def test_unknown_paths_and_methods() -> None:
    async with serving() as served:
        response = await served.client.post("/elsewhere", content=ECHO)
        assert response.status_code == 404
        assert response.headers["content-type"] == "text/plain"  # not a JSON-RPC -32601
        response = await served.client.put("/mcp", content=ECHO)
        assert response.status_code == 405
        response = await served.client.post(
            "/mcp/", content=ECHO, headers=modern_headers("tools/call", "echo")
        )
        assert response.status_code == 200  # a trailing slash is the same endpoint


async def test_a_failing_handler_gets_a_generic_500_without_details(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken(transport: Transport, info: HttpConnectionInfo) -> None:
        raise RuntimeError("secret internals")

    async with serving(connect=broken) as served:
        response = await served.client.post(
            "/mcp", content=ECHO, headers=modern_headers("tools/call", "echo")
        )
        assert response.status_code == 500
        assert response.json() == {
            "jsonrpc": "2.0",
            "id": 1,
            "error": {"code": -32603, "message": "Internal error"},
        }
        assert b"secret" not in response.content
        assert "secret internals" in caplog.text  # logged for the operator
        # legacy sessions whose handler fails end; their id is unknown afterwards
        response = await served.client.post(
            "/mcp", content=initialize_body(), headers=legacy_headers()
        )
        assert response.json()["error"]["code"] == -32603
        assert "mcp-session-id" not in response.headers
        assert b"secret" not in response.content
        assert served.app.session_count == 0
