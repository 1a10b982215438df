"""``Server.from_fastapi``: a real FastAPI app's routes as tools, the app called
in-process on the server's trio loop (FastAPI runs on anyio), its lifespan run
while the server runs."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.lowlevel
from fastapi import FastAPI, Header, HTTPException
from pydantic import BaseModel
from server_support import connect

from fastmcp_server import Server
from fastmcp_server.openapi import MCPType, RouteMap


class Product(BaseModel):
    name: str
    price: float
    category: str = "misc"


class Stored(Product):
    id: int


def make_app(events: list[str]) -> FastAPI:
    products: dict[int, Stored] = {1: Stored(id=1, name="Laptop", price=999.0)}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        events.append("startup")
        yield
        events.append("shutdown")

    app = FastAPI(title="Shop", version="3.0", lifespan=lifespan)

    @app.get("/products", operation_id="list_products")
    def list_products(max_price: float | None = None) -> list[Stored]:
        """List the products (a sync route: anyio runs it in a worker thread)."""
        return [p for p in products.values() if max_price is None or p.price <= max_price]

    @app.get("/products/{product_id}", operation_id="get_product")
    async def get_product(product_id: int) -> Stored:
        await anyio.lowlevel.checkpoint()  # an anyio checkpoint, on trio
        if product_id not in products:
            raise HTTPException(status_code=404, detail="Product not found")
        return products[product_id]

    @app.post("/products", operation_id="create_product")
    async def create_product(product: Product, x_user: str = Header("anonymous")) -> Stored:
        events.append(f"created by {x_user}")
        stored = Stored(id=max(products) + 1, **product.model_dump())
        products[stored.id] = stored
        return stored

    return app


async def test_a_fastapi_app_becomes_a_server() -> None:
    events: list[str] = []
    server = Server.from_fastapi(
        make_app(events), httpx_client_kwargs={"headers": {"X-User": "lin"}}
    )
    assert (server.name, server.version) == ("Shop", "3.0")
    async with connect(server) as client:
        assert events == ["startup"]
        tools = {t["name"]: t for t in (await client.call("tools/list"))["tools"]}
        assert list(tools) == ["list_products", "create_product", "get_product"]
        create = tools["create_product"]["inputSchema"]
        assert create["required"] == ["name", "price"]
        assert create["properties"]["price"] == {"type": "number", "title": "Price"}
        assert "x-user" in create["properties"]  # a header parameter
        created = await client.call(
            "tools/call",
            {"name": "create_product", "arguments": {"name": "Mouse", "price": 29.5}},
        )
        assert created["structuredContent"] == {
            "id": 2, "name": "Mouse", "price": 29.5, "category": "misc"
        }  # fmt: skip
        assert events[-1] == "created by lin"  # the client's headers
        cheap = await client.call(
            "tools/call", {"name": "list_products", "arguments": {"max_price": 100}}
        )
        assert [p["name"] for p in cheap["structuredContent"]["result"]] == ["Mouse"]
        missing = await client.call(
            "tools/call", {"name": "get_product", "arguments": {"product_id": 9}}
        )
        assert missing["isError"] is True
        assert missing["content"][0]["text"] == 'HTTP 404 Not Found: {"detail":"Product not found"}'
        invalid = await client.call(
            "tools/call", {"name": "get_product", "arguments": {"product_id": "nine"}}
        )
        assert invalid["isError"] is True
        assert invalid["content"][0]["text"].startswith("HTTP 422 Unprocessable")
    assert events[-1] == "shutdown"


async def test_route_maps_apply_to_fastapi_apps() -> None:
    server = Server.from_fastapi(
        make_app([]),
        name="shop resources",
        route_maps=[
            RouteMap(methods=["GET"], pattern=r"\{.*\}", mcp_type=MCPType.RESOURCE_TEMPLATE),
            RouteMap(methods=["GET"], mcp_type=MCPType.RESOURCE),
        ],
    )
    assert server.name == "shop resources"
    async with connect(server) as client:
        tools = [t["name"] for t in (await client.call("tools/list"))["tools"]]
        assert tools == ["create_product"]
        read = await client.call("resources/read", {"uri": "resource://get_product/1"})
        content: dict[str, Any] = read["contents"][0]
        assert content["mimeType"] == "application/json"
        assert json.loads(content["text"])["name"] == "Laptop"
