"""``Server.from_openapi``: an HTTP API's operations as tools and resources, called for
real (the API is served on 127.0.0.1 by our own HTTP/1.1 server)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import trio
from openapi_support import SPEC, PetStore, serving
from server_support import connect

from fastmcp_server import Server
from fastmcp_server.openapi import (
    HTTPRoute,
    MCPType,
    OpenAPIResource,
    OpenAPIResourceTemplate,
    OpenAPITool,
    RouteMap,
)


def text_of(result: dict[str, Any]) -> str:
    assert len(result["content"]) == 1
    text: str = result["content"][0]["text"]
    return text


async def test_operations_become_tools_with_the_documents_schemas() -> None:
    server = Server.from_openapi(SPEC, httpx.AsyncClient(base_url="http://unused"))
    assert (server.name, server.version) == ("Pet Store", "2.1.0")
    async with connect(server) as client:
        tools = {t["name"]: t for t in (await client.call("tools/list"))["tools"]}
    # names: the operationId up to its first "__", else the method and the path
    assert list(tools) == [
        "list_pets", "create_pet", "get_pet", "delete_pet", "post_echo_id", "slow", "admin_stats"
    ]  # fmt: skip
    listing = tools["list_pets"]
    assert listing["description"] == "List the pets"
    assert listing["annotations"] == {"readOnlyHint": True}
    assert listing["_meta"] == {"fastmcp": {"tags": ["pets"]}}
    # a referenced parameter, its schema a reference into $defs
    assert listing["inputSchema"] == {
        "type": "object",
        "properties": {
            "kind": {"$ref": "#/$defs/Kind", "description": "only pets of this kind"},
            "limit": {"type": "integer"},
        },
        "$defs": {"Kind": {"type": "string", "enum": ["dog", "cat"]}},
    }
    # an array response is wrapped; OpenAPI 3.0's nullable is JSON Schema's null
    output = listing["outputSchema"]
    assert output["properties"]["result"] == {"type": "array", "items": {"$ref": "#/$defs/Pet"}}
    assert output["required"] == ["result"]
    assert output["$defs"]["Pet"]["properties"]["owner"] == {"type": ["string", "null"]}
    # a referenced request body made of allOf members: flattened into arguments
    create = tools["create_pet"]
    assert create["inputSchema"]["properties"] == {
        "name": {"type": "string", "description": "what to call it"},
        "kind": {"$ref": "#/$defs/Kind"},
        "tags": {"type": "array", "items": {"type": "string"}},
    }
    assert create["inputSchema"]["required"] == ["name"]
    assert create["outputSchema"]["properties"]["kind"] == {"$ref": "#/$defs/Kind"}
    assert "annotations" not in create
    # path parameters of the path item; what HTTP promises of DELETE
    assert tools["get_pet"]["inputSchema"]["required"] == ["pet_id"]
    assert tools["get_pet"]["description"] == "One pet, by its id."
    assert tools["delete_pet"]["annotations"] == {
        "readOnlyHint": False,
        "destructiveHint": True,
        "idempotentHint": True,
    }
    # the same name in two places: the second takes its location
    echo = tools["post_echo_id"]["inputSchema"]
    assert set(echo["properties"]) == {
        "id", "id__query", "colors", "filter", "X-Trace", "session", "body"
    }  # fmt: skip
    assert echo["required"] == ["id"]


async def test_calls_reach_the_api_and_come_back() -> None:
    store = PetStore()
    async with serving(store) as url, httpx.AsyncClient(base_url=url) as api:
        server = Server.from_openapi(SPEC, client=api)
        async with connect(server) as client:
            listed = await client.call(
                "tools/call", {"name": "list_pets", "arguments": {"kind": "dog", "limit": None}}
            )
            assert store.seen[-1].query == [("kind", "dog")]  # None leaves it out
            assert listed["structuredContent"] == {"result": [store.pets[1]]}
            assert json.loads(text_of(listed)) == [store.pets[1]]
            created = await client.call(
                "tools/call",
                {"name": "create_pet", "arguments": {"name": "Tom", "kind": "cat", "extra": 1}},
            )
            assert created["structuredContent"] == {"id": 2, "name": "Tom", "kind": "cat"}
            assert json.loads(store.seen[-1].body) == {"name": "Tom", "kind": "cat"}
            assert store.seen[-1].headers["content-type"] == "application/json"
            got = await client.call("tools/call", {"name": "get_pet", "arguments": {"pet_id": 2}})
            assert got["structuredContent"]["name"] == "Tom"
            deleted = await client.call(
                "tools/call", {"name": "delete_pet", "arguments": {"pet_id": 2}}
            )
            assert deleted == {"content": []}
            assert 2 not in store.pets
            echoed = await client.call(
                "tools/call",
                {
                    "name": "post_echo_id",
                    "arguments": {
                        "id": "a b/c",
                        "id__query": [1, 2],
                        "colors": ["red", "blue"],
                        "filter": {"kind": "dog"},
                        "X-Trace": "t-1",
                        "session": "s1",
                        "body": [True, False],
                    },
                },
            )
            seen = json.loads(text_of(echoed))
            assert seen["path"] == "/echo/a b/c"  # sent percent-encoded, as one segment
            assert store.seen[-1].query == [
                ("id", "1"), ("id", "2"), ("colors", "red,blue"), ("filter[kind]", "dog")
            ]  # fmt: skip
            assert (seen["trace"], seen["cookie"]) == ("t-1", "session=s1")
            assert seen["body"] == "[true, false]"


async def test_http_errors_are_tool_errors_with_status_and_body() -> None:
    store = PetStore()
    async with (
        serving(store) as url,
        httpx.AsyncClient(base_url=url) as api,
        connect(Server.from_openapi(SPEC, client=api)) as client,
    ):
        missing = await client.call("tools/call", {"name": "get_pet", "arguments": {"pet_id": 7}})
        assert missing["isError"] is True
        assert text_of(missing) == 'HTTP 404 Not Found: {"detail": "no pet 7"}'
        invalid = await client.call("tools/call", {"name": "create_pet", "arguments": {"name": 3}})
        assert text_of(invalid) == (
            'HTTP 422 Unprocessable Entity: {"detail": "name must be a string"}'
        )
        unnamed = await client.call("tools/call", {"name": "create_pet", "arguments": {}})
        assert unnamed["isError"] is True
        assert text_of(unnamed) == "missing required argument(s): name"
    # the API gone: the call fails, naming why
    async with (
        httpx.AsyncClient(base_url=url) as api,
        connect(Server.from_openapi(SPEC, client=api)) as client,
    ):
        refused = await client.call("tools/call", {"name": "list_pets", "arguments": {}})
    assert refused["isError"] is True
    assert text_of(refused).startswith("GET /pets failed: ConnectError")


async def test_cancelling_the_call_cancels_the_http_request() -> None:
    store = PetStore()
    async with (
        serving(store) as url,
        httpx.AsyncClient(base_url=url) as api,
        connect(Server.from_openapi(SPEC, client=api)) as client,
    ):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(client.call, "tools/call", {"name": "slow", "arguments": {}})
            await store.hanging.wait()
            nursery.cancel_scope.cancel()
        await store.cancelled.wait()  # the API saw the connection go


async def test_route_maps_make_resources_templates_and_exclusions() -> None:
    def by_path(route: HTTPRoute, mcp_type: MCPType) -> MCPType | None:
        return MCPType.TOOL if route.path == "/slow" else None

    store = PetStore()
    async with serving(store) as url, httpx.AsyncClient(base_url=url) as api:
        server = Server.from_openapi(
            SPEC,
            client=api,
            route_maps=[
                RouteMap(methods=["GET"], pattern=r"\{.*\}", mcp_type=MCPType.RESOURCE_TEMPLATE),
                RouteMap(methods=["GET"], tags={"internal"}, mcp_type=MCPType.EXCLUDE),
                RouteMap(methods=["GET"], mcp_type=MCPType.RESOURCE, mcp_tags={"read"}),
            ],
            route_map_fn=by_path,
            mcp_names={"delete_pet": "remove pet!"},
            tags={"store"},
        )
        async with connect(server) as client:
            tools = [t["name"] for t in (await client.call("tools/list"))["tools"]]
            assert tools == ["create_pet", "remove_pet", "post_echo_id", "slow"]
            resources = (await client.call("resources/list"))["resources"]
            assert resources == [
                {
                    "uri": "resource://list_pets",
                    "name": "list_pets",
                    "description": "List the pets",
                    "mimeType": "application/json",
                    "_meta": {"fastmcp": {"tags": ["pets", "read", "store"]}},
                }
            ]
            templates = (await client.call("resources/templates/list"))["resourceTemplates"]
            assert [t["uriTemplate"] for t in templates] == ["resource://get_pet/{pet_id}"]
            listed = await client.call("resources/read", {"uri": "resource://list_pets"})
            assert json.loads(listed["contents"][0]["text"]) == [store.pets[1]]
            one = await client.call("resources/read", {"uri": "resource://get_pet/1"})
            assert one["contents"][0]["uri"] == "resource://get_pet/1"
            assert json.loads(one["contents"][0]["text"])["name"] == "Rex"
            gone = await client.error("resources/read", {"uri": "resource://get_pet/9"})
            assert gone.code == -32002
            assert 'HTTP 404 Not Found: {"detail": "no pet 9"}' in gone.message


async def test_components_can_be_changed_before_they_are_registered() -> None:
    seen: list[tuple[str, str]] = []

    def customize(
        route: HTTPRoute, component: OpenAPITool | OpenAPIResource | OpenAPIResourceTemplate
    ) -> None:
        seen.append((route.method, type(component).__name__))
        if isinstance(component, OpenAPITool):
            component.description = f"(via the API) {component.description}"
            component.tags.add("api")

    server = Server.from_openapi(
        SPEC,
        httpx.AsyncClient(base_url="http://unused"),
        route_maps=[RouteMap(pattern="^/(echo|slow|admin)", mcp_type=MCPType.EXCLUDE)],
        mcp_component_fn=customize,
    )
    assert seen == [
        ("GET", "OpenAPITool"),
        ("POST", "OpenAPITool"),
        ("GET", "OpenAPITool"),
        ("DELETE", "OpenAPITool"),
    ]
    async with connect(server) as client:
        tools = (await client.call("tools/list"))["tools"]
    assert tools[0]["description"] == "(via the API) List the pets"
    assert tools[0]["_meta"] == {"fastmcp": {"tags": ["api", "pets"]}}


async def test_without_a_client_the_server_opens_one_on_the_documents_server() -> None:
    store = PetStore()
    async with serving(store) as url:
        server = Server.from_openapi({**SPEC, "servers": [{"url": url}]})
        for _ in range(2):  # opened while serving, closed after, opened again
            async with connect(server) as client:
                got = await client.call(
                    "tools/call", {"name": "get_pet", "arguments": {"pet_id": 1}}
                )
                assert got["structuredContent"]["name"] == "Rex"


def test_documents_that_cannot_work_are_refused() -> None:
    with pytest.raises(ValueError, match=r"OpenAPI 3\.x document is needed .*'2\.0'"):
        Server.from_openapi({"swagger": "2.0", "paths": {}})
    with pytest.raises(ValueError, match="the document names no server"):
        Server.from_openapi({**SPEC})
    outside = {
        **SPEC,
        "paths": {"/x": {"get": {"parameters": [{"$ref": "other.yaml#/components/parameters/X"}]}}},
    }
    with pytest.raises(ValueError, match="only references within the document"):
        Server.from_openapi(outside, httpx.AsyncClient())


def body_spec(content_type: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "bodies", "version": "1"},
        "paths": {
            "/echo/body": {
                "post": {
                    "operationId": "send",
                    "requestBody": {
                        "required": True,
                        "content": {content_type: {"schema": schema}},
                    },
                    "responses": {"200": {"description": "what arrived"}},
                }
            }
        },
    }


FORM = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "tags": {"type": "array"}, "age": {}},
}


@pytest.mark.parametrize(
    ("content_type", "schema", "arguments", "sent"),
    [
        (
            "application/x-www-form-urlencoded",
            FORM,
            {"name": "Rex", "tags": ["a", "b"], "age": 3},
            "name=Rex&tags=a&tags=b&age=3",
        ),
        ("text/plain", {"type": "string"}, {"body": "hello"}, "hello"),
        ("application/merge-patch+json", FORM, {"name": "Rex"}, '{"name": "Rex"}'),
    ],
)
async def test_bodies_are_sent_as_their_media_type_says(
    content_type: str, schema: dict[str, Any], arguments: dict[str, Any], sent: str
) -> None:
    store = PetStore()
    async with (
        serving(store) as url,
        httpx.AsyncClient(base_url=url) as api,
        connect(Server.from_openapi(body_spec(content_type, schema), client=api)) as client,
    ):
        [tool] = (await client.call("tools/list"))["tools"]
        assert set(arguments) <= set(tool["inputSchema"]["properties"])
        echoed = json.loads(
            text_of(await client.call("tools/call", {"name": "send", "arguments": arguments}))
        )
        assert (echoed["body"], echoed["content_type"]) == (sent, content_type)


async def test_a_multipart_body_is_one_field_per_argument() -> None:
    store = PetStore()
    spec = body_spec("multipart/form-data", FORM)
    async with (
        serving(store) as url,
        httpx.AsyncClient(base_url=url) as api,
        connect(Server.from_openapi(spec, client=api)) as client,
    ):
        arguments = {"name": "Rex", "tags": ["a", "b"]}
        await client.call("tools/call", {"name": "send", "arguments": arguments})
    request = store.seen[-1]
    assert request.headers["content-type"].startswith("multipart/form-data; boundary=")
    body = request.body.decode()
    assert body.count('name="tags"') == 2
    assert 'name="name"\r\n\r\nRex' in body
