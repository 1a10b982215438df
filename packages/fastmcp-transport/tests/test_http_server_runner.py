"""``serve_http`` and ``serve_h1``: a free port, TLS, and a graceful end when cancelled."""

from __future__ import annotations

import ssl
from functools import partial
from pathlib import Path

import httpx
import pytest
import trio
import trustme
from http_server_support import (
    SERVERS,
    Recorder,
    initialize_body,
    legacy_headers,
    make_connect,
    messages_of,
    modern_headers,
    serve,
    tool_call,
)

from fastmcp_transport.http_server import ServerAddress

on_both_servers = pytest.mark.usefixtures("http_server")


@on_both_servers
async def test_a_connection_handler_is_served_on_a_free_port() -> None:
    async with trio.open_nursery() as nursery:
        address: ServerAddress = await nursery.start(
            partial(serve(), make_connect(Recorder()), port=0, path="/rpc")
        )
        assert address.port > 0
        assert address.url == f"http://127.0.0.1:{address.port}/rpc"
        async with httpx.AsyncClient() as client:
            response = await client.post(
                address.url,
                content=tool_call(1, "echo", text="hi"),
                headers=modern_headers("tools/call", "echo"),
            )
        assert response.json()["result"]["content"][0]["text"] == "hi"
        nursery.cancel_scope.cancel()


@on_both_servers
async def test_cancelling_lets_requests_in_flight_finish_then_stops() -> None:
    recorder = Recorder()
    result: list[httpx.Response] = []
    async with httpx.AsyncClient(timeout=10) as client, trio.open_nursery() as outer:
        server = trio.CancelScope()

        async def run_server(task_status: trio.TaskStatus[ServerAddress]) -> None:
            with server:
                await serve()(
                    make_connect(recorder), port=0, graceful_timeout=5, task_status=task_status
                )

        address: ServerAddress = await outer.start(run_server)
        response = await client.post(
            address.url, content=initialize_body(), headers=legacy_headers()
        )
        session_id = response.headers["mcp-session-id"]

        async def slow_call() -> None:
            payload = tool_call(1, "sleep", modern=False, key="slow", seconds=0.3)
            headers = legacy_headers(session_id)
            result.append(await client.post(address.url, content=payload, headers=headers))

        outer.start_soon(slow_call)
        await recorder.event(recorder.started, "slow").wait()
        server.cancel()  # the server is cancelled while the call is in flight
    (response,) = result
    assert messages_of(response.content)[-1]["result"]["content"][0]["text"] == "slept"
    assert "slow" not in recorder.cancelled
    async with httpx.AsyncClient() as client:
        with pytest.raises(httpx.ConnectError):
            await client.post(address.url, content=b"{}")


@on_both_servers
async def test_tls(tmp_path: Path) -> None:
    authority = trustme.CA()
    issued = authority.issue_cert("127.0.0.1")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    issued.cert_chain_pems[0].write_to_path(str(cert))
    issued.private_key_pem.write_to_path(str(key))
    context = ssl.create_default_context()
    authority.configure_trust(context)
    async with trio.open_nursery() as nursery:
        address: ServerAddress = await nursery.start(
            partial(serve(), make_connect(Recorder()), port=0, certfile=cert, keyfile=key)
        )
        assert address.url.startswith("https://")
        async with httpx.AsyncClient(verify=context) as client:
            response = await client.post(
                address.url,
                content=tool_call(1, "echo", text="secure"),
                headers=modern_headers("tools/call", "echo"),
            )
        assert response.json()["result"]["content"][0]["text"] == "secure"
        nursery.cancel_scope.cancel()


@pytest.mark.parametrize(
    "name",
    [
        # hypercorn leaks the socket whose bind failed (its create_sockets does not
        # close it); serve_h1 must not, so only hypercorn's run ignores the warning
        pytest.param(
            "hypercorn",
            marks=pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
        ),
        "h1",
    ],
)
async def test_a_port_in_use_fails_instead_of_hanging(name: str) -> None:
    import errno
    import gc
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with trio.fail_after(10), pytest.raises(BaseException) as caught:  # noqa: PT011
            async with trio.open_nursery() as nursery:
                await nursery.start(partial(SERVERS[name], make_connect(Recorder()), port=port))
    error = caught.value
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    assert isinstance(error, OSError)
    assert error.errno == errno.EADDRINUSE
    del caught, error
    gc.collect()  # a leaked socket is reported here
