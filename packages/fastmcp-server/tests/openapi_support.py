"""A small HTTP API for the OpenAPI tests: a hand-written ASGI app (a pet store) and
its OpenAPI document, served for real on 127.0.0.1 by our own HTTP/1.1 server."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qsl, unquote

import attrs
import trio

from fastmcp_transport.http_server import H1Server


@attrs.define
class Seen:
    """A request the API received."""

    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes


@attrs.define
class PetStore:
    """The API's state, and what it was asked."""

    pets: dict[int, dict[str, Any]] = attrs.field(
        factory=lambda: {1: {"id": 1, "name": "Rex", "kind": "dog", "tags": ["good"]}}
    )
    seen: list[Seen] = attrs.field(factory=list)
    hanging: trio.Event = attrs.field(factory=trio.Event)
    cancelled: trio.Event = attrs.field(factory=trio.Event)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                await send({"type": message["type"] + ".complete"})
                if message["type"] == "lifespan.shutdown":
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        query = parse_qsl(scope["query_string"].decode(), keep_blank_values=True)
        seen = Seen(scope["method"], unquote(scope["path"]), query, headers, body)
        self.seen.append(seen)
        if seen.path == "/slow":  # never answers: waits until the client goes away
            self.hanging.set()
            if (await receive())["type"] == "http.disconnect":
                self.cancelled.set()
            return
        status, answer = await self.route(seen)
        if isinstance(answer, str):
            payload, content_type = answer.encode(), b"text/plain"
        else:
            payload, content_type = json.dumps(answer).encode(), b"application/json"
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", content_type)],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    async def route(self, request: Seen) -> tuple[int, Any]:
        parts = request.path.strip("/").split("/")
        method = request.method
        if parts == ["pets"] and method == "GET":
            kind = dict(request.query).get("kind")
            pets = [p for p in self.pets.values() if kind is None or p["kind"] == kind]
            limit = dict(request.query).get("limit")
            return 200, pets[: int(limit)] if limit else pets
        if parts == ["pets"] and method == "POST":
            new = json.loads(request.body)
            if not isinstance(new.get("name"), str):
                return 422, {"detail": "name must be a string"}
            pet = {"id": max(self.pets, default=0) + 1, **new}
            self.pets[pet["id"]] = pet
            return 201, pet
        if len(parts) == 2 and parts[0] == "pets":
            pet = self.pets.get(int(parts[1])) if parts[1].isdigit() else None
            if pet is None:
                return 404, {"detail": f"no pet {parts[1]}"}
            if method == "DELETE":
                del self.pets[pet["id"]]
                return 204, ""
            return 200, pet
        if parts[0] == "echo":
            return 200, {
                "path": request.path,
                "query": request.query,
                "trace": request.headers.get("x-trace"),
                "cookie": request.headers.get("cookie"),
                "content_type": request.headers.get("content-type"),
                "body": request.body.decode(),
            }
        if parts == ["admin", "stats"]:
            return 200, {"pets": len(self.pets)}
        return 404, "not here"


@asynccontextmanager
async def serving(app: Any) -> AsyncIterator[str]:
    """``app`` served on a free port of 127.0.0.1; yields its base URL."""
    async with trio.open_nursery() as nursery:
        address = await nursery.start(
            lambda task_status: H1Server(app, port=0).serve(task_status=task_status)
        )
        yield f"http://127.0.0.1:{address.port}"
        nursery.cancel_scope.cancel()


PET = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "kind": {"$ref": "#/components/schemas/Kind"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "owner": {"type": "string", "nullable": True},
    },
    "required": ["id", "name"],
}

SPEC: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "Pet Store", "version": "2.1.0"},
    "paths": {
        "/pets": {
            "get": {
                "operationId": "list_pets__get",
                "summary": "List the pets",
                "tags": ["pets"],
                "parameters": [
                    {"$ref": "#/components/parameters/Kind"},
                    {"name": "limit", "in": "query", "schema": {"type": "integer"}},
                ],
                "responses": {
                    "200": {
                        "description": "the pets",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "array",
                                    "items": {"$ref": "#/components/schemas/Pet"},
                                }
                            }
                        },
                    }
                },
            },
            "post": {
                "operationId": "create_pet",
                "summary": "Add a pet",
                "tags": ["pets", "write"],
                "requestBody": {"$ref": "#/components/requestBodies/NewPet"},
                "responses": {
                    "201": {
                        "description": "the new pet",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}
                        },
                    }
                },
            },
        },
        "/pets/{pet_id}": {
            "parameters": [
                {"name": "pet_id", "in": "path", "required": True, "schema": {"type": "integer"}}
            ],
            "get": {
                "operationId": "get_pet",
                "description": "One pet, by its id.",
                "tags": ["pets"],
                "responses": {
                    "200": {
                        "description": "the pet",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}
                        },
                    },
                    "404": {"description": "no such pet"},
                },
            },
            "delete": {
                "operationId": "delete_pet",
                "tags": ["pets", "write"],
                "responses": {"204": {"description": "deleted"}},
            },
        },
        "/echo/{id}": {
            "post": {
                "parameters": [
                    {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}},
                    {
                        "name": "id",
                        "in": "query",
                        "schema": {"type": "array", "items": {"type": "integer"}},
                    },
                    {
                        "name": "colors",
                        "in": "query",
                        "explode": False,
                        "schema": {"type": "array", "items": {"type": "string"}},
                    },
                    {
                        "name": "filter",
                        "in": "query",
                        "style": "deepObject",
                        "schema": {"type": "object"},
                    },
                    {"name": "X-Trace", "in": "header", "schema": {"type": "string"}},
                    {"name": "session", "in": "cookie", "schema": {"type": "string"}},
                ],
                "requestBody": {
                    "content": {
                        "application/json": {
                            "schema": {"type": "array", "items": {"type": "boolean"}}
                        }
                    }
                },
                "responses": {"200": {"description": "what arrived"}},
            }
        },
        "/slow": {"get": {"operationId": "slow", "responses": {"200": {"description": "never"}}}},
        "/admin/stats": {
            "get": {
                "operationId": "admin_stats",
                "tags": ["internal"],
                "responses": {"200": {"description": "stats"}},
            }
        },
    },
    "components": {
        "schemas": {
            "Kind": {"type": "string", "enum": ["dog", "cat"]},
            "Pet": PET,
            "NewPet": {
                "allOf": [
                    {"$ref": "#/components/schemas/Named"},
                    {
                        "type": "object",
                        "properties": {
                            "kind": {"$ref": "#/components/schemas/Kind"},
                            "tags": {"type": "array", "items": {"type": "string"}},
                        },
                    },
                ]
            },
            "Named": {
                "type": "object",
                "properties": {"name": {"type": "string", "description": "what to call it"}},
                "required": ["name"],
            },
        },
        "parameters": {
            "Kind": {
                "name": "kind",
                "in": "query",
                "description": "only pets of this kind",
                "schema": {"$ref": "#/components/schemas/Kind"},
            }
        },
        "requestBodies": {
            "NewPet": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/NewPet"}}
                },
            }
        },
    },
}
