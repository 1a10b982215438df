"""Custom routes (``Server.custom_route``): served by ``serve_http`` (what ``run_http``
and ``fastmcp run -t http`` use, on both HTTP servers) and by ``http_app()``, outside
the MCP endpoint and its authorization unless they ask for it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import httpx
import pytest
import trio

from fastmcp_server import Server
from fastmcp_server.auth import AccessToken, BearerAuth, StaticTokenVerifier
from fastmcp_transport.http_server import H1Server, HttpRequest, HttpResponse

RESOURCE = "http://127.0.0.1/mcp"


def make_server() -> Server:
    server = Server("routes")
    hits: list[str] = []

    @server.tool
    async def ping() -> str:
        return "pong"

    @server.custom_route("/health")
    async def health(request: HttpRequest) -> str:
        return "ok"

    @server.custom_route("/echo/", methods=["POST", "put"])
    async def echo(request: HttpRequest) -> dict[str, Any]:
        hits.append(request.method)
        return {
            "method": request.method,
            "path": request.path,
            "query": request.query,
            "header": request.headers.get("x-thing"),
            "json": request.json(),
            "client": request.client is not None,
        }

    @server.custom_route("/teapot")
    async def teapot(request: HttpRequest) -> HttpResponse:
        return HttpResponse(b"short and stout", 418, {"X-Pot": "yes"}, media_type="text/teapot")

    @server.custom_route("/nothing", methods=["DELETE"])
    async def nothing(request: HttpRequest) -> None:
        return None

    @server.custom_route("/broken")
    async def broken(request: HttpRequest) -> str:
        raise RuntimeError("secret detail")

    @server.custom_route("/me", auth=True)
    async def me(request: HttpRequest) -> str:
        assert isinstance(request.principal, AccessToken)
        return request.principal.client_id

    return server


def routes_only(server: Server) -> Server:
    server.custom_routes[:] = [r for r in server.custom_routes if not r.auth]
    return server


async def check_public_routes(http: httpx.AsyncClient, base: str, unknown: int = 404) -> None:
    health = await http.get(f"{base}/health")
    assert (health.status_code, health.text) == (200, "ok")
    assert health.headers["content-type"] == "text/plain; charset=utf-8"
    echoed = await http.post(
        f"{base}/echo?a=1&b=2&a=3", json={"n": 1}, headers={"x-thing": "thing"}
    )
    assert echoed.status_code == 200
    assert echoed.headers["content-type"] == "application/json"
    assert echoed.json() == {
        "method": "POST",
        "path": "/echo",
        "query": {"a": "1", "b": "2"},
        "header": "thing",
        "json": {"n": 1},
        "client": True,
    }
    assert (await http.put(f"{base}/echo/", json=[])).json()["method"] == "PUT"
    wrong = await http.get(f"{base}/echo")
    assert wrong.status_code == 405
    assert wrong.headers["allow"] == "POST, PUT"
    teapot = await http.get(f"{base}/teapot")
    assert (teapot.status_code, teapot.content) == (418, b"short and stout")
    assert teapot.headers["x-pot"] == "yes"
    assert teapot.headers["content-type"] == "text/teapot"
    assert (await http.delete(f"{base}/nothing")).status_code == 204
    broken = await http.get(f"{base}/broken")
    assert broken.status_code == 500
    assert "secret" not in broken.text
    # elsewhere: the app's answer (behind an authorization layer, a token first)
    assert (await http.get(f"{base}/elsewhere")).status_code == unknown


@asynccontextmanager
async def serve(server: Server, **options: Any) -> AsyncIterator[str]:
    async with trio.open_nursery() as nursery:
        address = await nursery.start(partial(server.serve_http, port=0, **options))
        yield f"http://127.0.0.1:{address.port}"
        nursery.cancel_scope.cancel()


@pytest.mark.parametrize("http_server", ["h1", "hypercorn"])
async def test_custom_routes_are_served_beside_the_mcp_endpoint(http_server: str) -> None:
    server = routes_only(make_server())
    async with serve(server, http_server=http_server) as base, httpx.AsyncClient() as http:
        await check_public_routes(http, base)
        # the MCP endpoint is still there, with its own checks
        refused = await http.post(
            f"{base}/mcp", content=b"{}", headers={"content-type": "text/plain"}
        )
        assert refused.status_code == 415


async def test_custom_routes_of_an_http_app_mounted_elsewhere() -> None:
    app = routes_only(make_server()).http_app()
    async with trio.open_nursery() as nursery:
        address = await nursery.start(
            lambda task_status: H1Server(app, port=0).serve(task_status=task_status)
        )
        async with httpx.AsyncClient() as http:
            await check_public_routes(http, f"http://127.0.0.1:{address.port}")
        nursery.cancel_scope.cancel()


def auth() -> BearerAuth:
    verifier = StaticTokenVerifier({"good": {"client_id": "alice", "scopes": []}})
    return BearerAuth(verifier=verifier, authorization_servers=(), resource=RESOURCE)


async def test_only_the_routes_that_ask_for_it_need_a_token() -> None:
    async with serve(make_server(), auth=auth()) as base, httpx.AsyncClient() as http:
        await check_public_routes(http, base, unknown=401)  # no token needed
        assert (await http.get(f"{base}/me")).status_code == 401
        bad = await http.get(f"{base}/me", headers={"authorization": "Bearer bad"})
        assert bad.status_code == 401
        me = await http.get(f"{base}/me", headers={"authorization": "Bearer good"})
        assert (me.status_code, me.text) == (200, "alice")
        # and the MCP endpoint keeps its authorization
        assert (await http.post(f"{base}/mcp", json={})).status_code == 401


async def test_the_app_with_auth_serves_routes_on_either_side_of_it() -> None:
    app = make_server().http_app(auth=auth())
    async with trio.open_nursery() as nursery:
        address = await nursery.start(
            lambda task_status: H1Server(app, port=0).serve(task_status=task_status)
        )
        base = f"http://127.0.0.1:{address.port}"
        async with httpx.AsyncClient() as http:
            assert (await http.get(f"{base}/health")).text == "ok"
            assert (await http.get(f"{base}/me")).status_code == 401
            me = await http.get(f"{base}/me", headers={"authorization": "Bearer good"})
            assert me.text == "alice"
        nursery.cancel_scope.cancel()
    await app.aclose()


def test_a_route_that_asks_for_auth_needs_a_server_that_has_it() -> None:
    with pytest.raises(ValueError, match="auth=True"):
        make_server().http_app()


def test_custom_routes_are_checked_when_declared() -> None:
    server = Server("s")
    with pytest.raises(ValueError, match="starts with '/'"):
        server.custom_route("health")
    with pytest.raises(ValueError, match="no method"):
        server.custom_route("/x", methods=[])
    with pytest.raises(TypeError, match="async"):
        server.custom_route("/x")(lambda request: "sync")  # type: ignore[arg-type,return-value]
    server.custom_route("/x")(make_async())
    server.custom_route("/x/")(make_async())
    with pytest.raises(ValueError, match="two custom routes"):
        server.http_app()


def make_async() -> Any:
    async def handler(request: HttpRequest) -> str:
        return "x"

    return handler
