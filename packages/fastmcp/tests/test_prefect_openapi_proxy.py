"""Code written for PrefectHQ fastmcp's OpenAPI, FastAPI and client-configuration
guides, as they write it, run on our facade: the same names and call shapes where the
concept is the same (docs/migrating.md tells the differences). ``FastMCP`` is the one
name to change: it is ``Server`` here."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import trio
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel

from fastmcp import Client, MCPType, RouteMap, Server
from fastmcp_protocol import TextContent
from fastmcp_transport.http_server import H1Server

FastMCP = Server  # the one name to change in code written for PrefectHQ fastmcp


class Product(BaseModel):
    name: str
    price: float
    category: str
    description: str | None = None


class ProductResponse(Product):
    id: int


def e_commerce_api() -> FastAPI:
    """The example application of their FastAPI guide, in short."""
    app = FastAPI(title="E-commerce API", version="1.0.0")
    products_db = {1: ProductResponse(id=1, name="Laptop", price=999.99, category="Electronics")}

    @app.get("/products", response_model=list[ProductResponse])
    def list_products(
        category: str | None = None, max_price: float | None = None
    ) -> list[ProductResponse]:
        """List all products with optional filtering."""
        products = list(products_db.values())
        if category:
            products = [p for p in products if p.category == category]
        if max_price:
            products = [p for p in products if p.price <= max_price]
        return products

    @app.get("/products/{product_id}", response_model=ProductResponse)
    def get_product(product_id: int) -> ProductResponse:
        """Get a specific product by ID."""
        if product_id not in products_db:
            raise HTTPException(status_code=404, detail="Product not found")
        return products_db[product_id]

    @app.post("/products", response_model=ProductResponse)
    def create_product(product: Product) -> ProductResponse:
        """Create a new product."""
        stored = ProductResponse(id=max(products_db) + 1, **product.model_dump())
        products_db[stored.id] = stored
        return stored

    return app


@asynccontextmanager
async def served(app: FastAPI) -> AsyncIterator[str]:
    """The API served for real on 127.0.0.1 (our HTTP/1.1 server runs FastAPI on trio)."""
    async with trio.open_nursery() as nursery:
        address = await nursery.start(
            lambda task_status: H1Server(app, port=0).serve(task_status=task_status)
        )
        yield f"http://127.0.0.1:{address.port}"
        nursery.cancel_scope.cancel()


async def test_from_openapi_as_their_openapi_guide_writes_it() -> None:
    # Create an HTTP client for your API
    async with served(e_commerce_api()) as url, httpx.AsyncClient(base_url=url) as client:
        # Load your OpenAPI spec
        openapi_spec = (await client.get("/openapi.json")).json()
        # Create the MCP server
        mcp = FastMCP.from_openapi(openapi_spec=openapi_spec, client=client, name="My API Server")

        async with Client(mcp) as mcp_client:
            tools = await mcp_client.list_all_tools()
            assert [t.name for t in tools] == [
                "list_products_products_get",
                "create_product_products_post",
                "get_product_products",  # the operationId up to its first "__"
            ]
            result = await mcp_client.call_tool(
                "create_product_products_post",
                {"name": "Wireless Keyboard", "price": 79.99, "category": "Electronics"},
            )
            assert result.structured_content is not None
            assert result.structured_content["id"] == 2


async def test_from_fastapi_with_their_semantic_route_maps() -> None:
    app = e_commerce_api()
    # Custom mapping rules
    mcp = FastMCP.from_fastapi(
        app=app,
        route_maps=[
            # GET with path params -> ResourceTemplates
            RouteMap(methods=["GET"], pattern=r".*\{.*\}.*", mcp_type=MCPType.RESOURCE_TEMPLATE),
            # Other GETs -> Resources
            RouteMap(methods=["GET"], pattern=r".*", mcp_type=MCPType.RESOURCE),
            # POST/PUT/DELETE -> Tools (default)
        ],
    )
    assert mcp.name == "E-commerce API"
    async with Client(mcp) as client:
        assert [t.name for t in await client.list_all_tools()] == ["create_product_products_post"]
        assert [r.uri for r in await client.list_all_resources()] == [
            "resource://list_products_products_get"
        ]
        templates = await client.list_all_resource_templates()
        assert [t.uri_template for t in templates] == [
            "resource://get_product_products/{product_id}"
        ]
        result = await client.call_tool(
            "create_product_products_post",
            {"name": "Wireless Keyboard", "price": 79.99, "category": "Electronics"},
        )
        assert not result.is_error


ASSISTANT = '''
from fastmcp import Server as FastMCP

mcp = FastMCP("assistant")


@mcp.tool
def ask(question: str) -> str:
    """Answer a question."""
    return f"you asked: {question}"


@mcp.prompt
def explain(topic: str) -> str:
    return f"Explain {topic}"


mcp.run()
'''


def weather_server() -> FastMCP:
    mcp = FastMCP("weather")

    @mcp.tool
    def get_forecast(city: str) -> str:
        """The forecast of a city."""
        return f"sunny in {city}"

    @mcp.resource("forecast://today/{city}")
    def today(city: str) -> str:
        return f"today in {city}: sunny"

    return mcp


async def test_a_client_given_a_configuration_of_several_servers(tmp_path: Path) -> None:
    (tmp_path / "assistant.py").write_text(ASSISTANT)
    async with trio.open_nursery() as nursery:
        address = await nursery.start(
            lambda task_status: weather_server().serve_http(port=0, task_status=task_status)
        )
        config = {
            "mcpServers": {
                "weather": {"url": address.url, "transport": "http"},
                "assistant": {
                    "command": sys.executable,
                    "args": ["./assistant.py"],
                    "env": {"LOG_LEVEL": "INFO"},
                },
            }
        }
        client = Client(config, cwd=tmp_path)

        async with client:
            # Tools are namespaced by server
            weather = await client.call_tool("weather_get_forecast", {"city": "NYC"})
            answer = await client.call_tool("assistant_ask", {"question": "What?"})
            assert weather.content == [TextContent(text="sunny in NYC")]
            assert answer.content == [TextContent(text="you asked: What?")]
            names = sorted(t.name for t in await client.list_all_tools())
            assert names == ["assistant_ask", "weather_get_forecast"]
            # prompts like tools; resources under their server's name, after the scheme
            prompt = await client.get_prompt("assistant_explain", {"topic": "MCP"})
            assert prompt.messages[0].content == TextContent(text="Explain MCP")
            templates = await client.list_all_resource_templates()
            assert [t.uri_template for t in templates] == ["forecast://weather/today/{city}"]
            read = await client.read_resource("forecast://weather/today/Paris")
            assert read.contents[0].uri == "forecast://weather/today/Paris"
        nursery.cancel_scope.cancel()
