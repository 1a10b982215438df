"""A real OAuth 2.1 authorization server for the authorization tests, built on authlib.

authlib provides the protocol (the authorization code grant with PKCE, RFC 7636;
dynamic client registration, RFC 7591; the issuer parameter, RFC 9207; JWT access
tokens, RFC 9068); this module is the framework integration authlib asks for - its
requests and responses as a small ASGI app - plus the in-memory models. It serves on
127.0.0.1 through hypercorn's trio worker, in the test's own trio run:

* ``/.well-known/oauth-authorization-server`` (RFC 8414) and ``/jwks``;
* ``/authorize``: approves at once for the user ``alice`` (no login page), so that a
  headless client completes the flow;
* ``/token``: access tokens are ES256 JWTs whose ``aud`` is the request's
  ``resource`` (RFC 8707; authlib leaves that to its integrations);
* ``/register``: open dynamic registration.

It also plays an identity provider of the kind an OAuth proxy sits in front of
(``OAuthServer(registration=False, login_page=True)``): no dynamic registration (the
proxy's client is added with ``add_client``), a login page at ``/authorize`` that a
scripted browser fills in and approves or denies, and ``/userinfo`` (OpenID Connect's
claims of the user the access token was issued to).

``issue(...)`` signs arbitrary tokens with the server's key, for the tests that need
tokens the flow would never give (expired, for another audience).
"""

from __future__ import annotations

import html
import os
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, ClassVar
from urllib.parse import parse_qsl

import attrs
import httpx
import msgspec
import trio
from authlib.oauth2 import AuthorizationServer, OAuth2Error, OAuth2Request
from authlib.oauth2.rfc6749 import (
    AuthorizationCodeMixin,
    ClientMixin,
    JsonPayload,
    JsonRequest,
    grants,
)
from authlib.oauth2.rfc6749.requests import OAuth2Payload
from authlib.oauth2.rfc7591 import ClientRegistrationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc9068 import JWTBearerTokenGenerator
from authlib.oauth2.rfc9207 import IssuerParameter
from hypercorn.config import Config
from hypercorn.trio import serve
from joserfc import jwt
from joserfc.jwk import ECKey

# authlib refuses http:// unless told: the server runs on 127.0.0.1
os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")

SCOPES = ["mcp", "files:write", "offline_access", "profile"]
USER = "alice"
USER_CLAIMS = {
    "sub": USER,
    "preferred_username": "alice.liddell",
    "email": "alice@example.com",
    "email_verified": True,
    "name": "Alice Liddell",
}
LOGIN_PAGE = """<!doctype html><title>Sign in</title>
<form method=post action="/authorize">{hidden}
<input name=username>
<button name=login_decision value=approve>Sign in</button>
<button name=login_decision value=deny>Cancel</button>
</form>"""


# -- models ------------------------------------------------------------------------------


@attrs.define
class Client(ClientMixin):  # type: ignore[misc]
    client_id: str
    client_secret: str | None
    redirect_uris: list[str]
    auth_method: str

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope: str) -> str:
        return " ".join(s for s in (scope or "").split() if s in SCOPES)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return self.client_secret is not None and client_secret == self.client_secret

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == self.auth_method

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in ("authorization_code", "refresh_token")


@attrs.define
class Code(AuthorizationCodeMixin):  # type: ignore[misc]
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    resource: str | None
    code_challenge: str | None
    code_challenge_method: str | None

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


@attrs.frozen
class User:
    name: str

    def get_user_id(self) -> str:
        return self.name


# -- authlib's framework integration -----------------------------------------------------


@attrs.frozen
class HttpRequest:
    method: str
    url: str
    headers: httpx.Headers
    query: dict[str, str]
    form: dict[str, str]
    body: bytes


class _Payload(OAuth2Payload):  # type: ignore[misc]
    def __init__(self, data: dict[str, str]) -> None:
        self._data = data

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> dict[str, list[str]]:
        return {k: [v] for k, v in self._data.items()}


class _Request(OAuth2Request):  # type: ignore[misc]
    def __init__(self, request: HttpRequest) -> None:
        super().__init__(request.method, request.url, headers=request.headers)
        self._http = request
        self.payload = _Payload({**request.query, **request.form})

    @property
    def args(self) -> dict[str, str]:
        return self._http.query

    @property
    def form(self) -> dict[str, str]:
        return self._http.form


class _JsonPayload(JsonPayload):  # type: ignore[misc]
    def __init__(self, body: bytes) -> None:
        self._data = msgspec.json.decode(body) if body else {}

    @property
    def data(self) -> Any:
        return self._data


class _JsonRequest(JsonRequest):  # type: ignore[misc]
    def __init__(self, request: HttpRequest) -> None:
        super().__init__(request.method, request.url, request.headers)
        self.payload = _JsonPayload(request.body)


@attrs.define
class Response:
    status: int
    body: Any
    headers: list[tuple[str, str]]

    @property
    def location(self) -> str | None:
        return next((v for k, v in self.headers if k.lower() == "location"), None)

    @location.setter
    def location(self, value: str) -> None:
        self.headers = [(k, v) for k, v in self.headers if k.lower() != "location"]
        self.headers.append(("Location", value))


class _Tokens(JWTBearerTokenGenerator):  # type: ignore[misc]
    def __init__(self, issuer: str, key: ECKey) -> None:
        super().__init__(issuer=issuer, alg="ES256")
        self.key = key
        self.resource: str | None = None  # of the token request being served

    def get_jwks(self) -> ECKey:
        return self.key

    def get_audiences(self, client: Client, user: Any, scope: str) -> str:
        return self.resource or client.get_client_id()


class _Issuer(IssuerParameter):  # type: ignore[misc]
    def __init__(self, issuer: str) -> None:
        self.issuer = issuer

    def get_issuer(self) -> str:
        return self.issuer


@attrs.define(eq=False)
class OAuthServer:
    """The authorization server: authlib's protocol, our models, an ASGI front."""

    base: str = ""
    registration: bool = True
    login_page: bool = False
    pkce: bool = True
    key: ECKey = attrs.field(
        factory=lambda: ECKey.generate_key("P-256", parameters={"kid": "as-1"})
    )
    clients: dict[str, Client] = attrs.field(factory=dict)
    codes: dict[str, Code] = attrs.field(factory=dict)
    authorizations: list[dict[str, str]] = attrs.field(factory=list)
    token_requests: list[dict[str, str]] = attrs.field(factory=list)
    userinfo_requests: int = 0
    _server: AuthorizationServer | None = attrs.field(default=None)
    _tokens: _Tokens | None = attrs.field(default=None)

    def build(self, base: str) -> None:
        """Wire authlib for an issuer URL (known once the port is)."""
        self.base = base
        outer = self

        class Server(AuthorizationServer):  # type: ignore[misc]
            def query_client(self, client_id: str) -> Client | None:
                return outer.clients.get(client_id)

            def save_token(self, token: Mapping[str, Any], request: Any) -> None:
                pass

            def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
                pass

            def create_oauth2_request(self, request: Any) -> OAuth2Request:
                return request if isinstance(request, OAuth2Request) else _Request(request)

            def create_json_request(self, request: Any) -> JsonRequest:
                return _JsonRequest(request)

            def handle_response(self, status: int, body: Any, headers: Any) -> Response:
                return Response(status, body, list(headers))

        class CodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
            TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = [
                "client_secret_basic",
                "client_secret_post",
                "none",
            ]

            def save_authorization_code(self, code: str, request: Any) -> None:
                data = request.payload.data
                outer.codes[code] = Code(
                    code=code,
                    client_id=request.client.client_id,
                    redirect_uri=data.get("redirect_uri", ""),
                    scope=request.client.get_allowed_scope(data.get("scope", "")),
                    resource=data.get("resource"),
                    code_challenge=data.get("code_challenge"),
                    code_challenge_method=data.get("code_challenge_method"),
                )

            def query_authorization_code(self, code: str, client: Client) -> Code | None:
                found = outer.codes.get(code)
                return found if found is not None and found.client_id == client.client_id else None

            def delete_authorization_code(self, authorization_code: Code) -> None:
                outer.codes.pop(authorization_code.code, None)

            def authenticate_user(self, authorization_code: Code) -> User:
                return User(USER)

        class Registration(ClientRegistrationEndpoint):  # type: ignore[misc]
            def authenticate_token(self, request: Any) -> bool:
                return True  # open registration

            def get_server_metadata(self) -> dict[str, Any]:
                return outer.metadata()

            def save_client(self, client_info: Any, client_metadata: Any, request: Any) -> Client:
                method = client_metadata.get("token_endpoint_auth_method", "client_secret_basic")
                client = Client(
                    client_id=client_info["client_id"],
                    client_secret=client_info["client_secret"] if method != "none" else None,
                    redirect_uris=list(client_metadata.get("redirect_uris", [])),
                    auth_method=method,
                )
                outer.clients[client.client_id] = client
                return client

        server = Server(scopes_supported=SCOPES)
        self._tokens = _Tokens(base, self.key)
        server.register_token_generator("default", self._tokens)
        server.register_grant(CodeGrant, [CodeChallenge(required=True)] if self.pkce else [])
        if self.registration:
            server.register_endpoint(Registration)
        server.register_extension(_Issuer(base))
        self._server = server

    def add_client(
        self,
        client_id: str,
        client_secret: str | None,
        redirect_uris: list[str],
        auth_method: str = "client_secret_basic",
    ) -> None:
        """Register a client by hand (what an identity provider's console does)."""
        self.clients[client_id] = Client(client_id, client_secret, redirect_uris, auth_method)

    def metadata(self) -> dict[str, Any]:
        base = self.base
        document = {
            "issuer": base,
            "authorization_endpoint": f"{base}/authorize",
            "token_endpoint": f"{base}/token",
            "registration_endpoint": f"{base}/register",
            "userinfo_endpoint": f"{base}/userinfo",
            "jwks_uri": f"{base}/jwks",
            "scopes_supported": SCOPES,
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": [
                "none",
                "client_secret_basic",
                "client_secret_post",
            ],
            "authorization_response_iss_parameter_supported": True,
        }
        if not self.registration:
            del document["registration_endpoint"]
        return document

    def issue(self, *, key: ECKey | None = None, **claims: Any) -> str:
        """A token signed by this server (or by ``key``), with default claims."""
        now = int(time.time())
        body = {"iss": self.base, "sub": USER, "client_id": "forged", "iat": now, "exp": now + 300}
        body.update(claims)
        return jwt.encode({"alg": "ES256", "typ": "at+jwt"}, body, key or self.key)

    # -- ASGI ------------------------------------------------------------------------

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = httpx.Headers([(k.decode(), v.decode()) for k, v in scope["headers"]])
        query = dict(parse_qsl(scope["query_string"].decode()))
        form = (
            dict(parse_qsl(body.decode()))
            if headers.get("content-type", "").startswith("application/x-www-form-urlencoded")
            else {}
        )
        request = HttpRequest(
            scope["method"], f"{self.base}{scope['path']}", headers, query, form, body
        )
        response = self._route(scope["path"], request)
        payload = (
            response.body
            if isinstance(response.body, bytes)
            else msgspec.json.encode(response.body)
        )
        head = [(k.lower().encode(), v.encode()) for k, v in response.headers]
        if not any(k == b"content-type" for k, _ in head):
            head.append((b"content-type", b"application/json"))
        await send({"type": "http.response.start", "status": response.status, "headers": head})
        await send({"type": "http.response.body", "body": payload})

    def _route(self, path: str, request: HttpRequest) -> Response:
        server = self._server
        assert server is not None
        assert self._tokens is not None
        if path == "/.well-known/oauth-authorization-server":
            return Response(200, self.metadata(), [])
        if path == "/jwks":
            return Response(200, {"keys": [self.key.as_dict(private=False)]}, [])
        if path == "/authorize":
            return self._authorize(server, request)
        if path == "/userinfo":
            return self._userinfo(request)
        if path == "/token":
            self.token_requests.append(request.form)
            self._tokens.resource = request.form.get("resource")
            try:
                return server.create_token_response(request)
            finally:
                self._tokens.resource = None
        if path == "/register" and self.registration:
            return server.create_endpoint_response("client_registration", request)
        return Response(404, {"error": "not_found"}, [])

    def _authorize(self, server: AuthorizationServer, request: HttpRequest) -> Response:
        if not self.login_page:  # approves at once
            self.authorizations.append(request.query)
            grant = server.get_consent_grant(request, end_user=User(USER))
            return server.create_authorization_response(request, grant_user=User(USER), grant=grant)
        if request.method == "GET":
            self.authorizations.append(request.query)
            try:
                server.get_consent_grant(request, end_user=User(USER))
            except OAuth2Error as error:
                return Response(400, {"error": error.error}, [])
            hidden = "".join(
                f'<input type=hidden name="{html.escape(k)}" value="{html.escape(v)}">'
                for k, v in request.query.items()
            )
            page = LOGIN_PAGE.format(hidden=hidden).encode()
            return Response(200, page, [("content-type", "text/html")])
        approved = request.form.get("login_decision") == "approve"
        user = User(request.form["username"]) if approved else None
        grant = server.get_consent_grant(request, end_user=user)
        return server.create_authorization_response(request, grant_user=user, grant=grant)

    def _userinfo(self, request: HttpRequest) -> Response:
        self.userinfo_requests += 1
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        try:
            claims = jwt.decode(token, self.key).claims
        except Exception:  # any malformed or forged token: refused
            claims = None
        if scheme.lower() != "bearer" or claims is None or claims.get("exp", 0) < time.time():
            return Response(401, {"error": "invalid_token"}, [("www-authenticate", "Bearer")])
        return Response(200, {**USER_CLAIMS, "sub": claims["sub"]}, [])


@asynccontextmanager
async def running(server: OAuthServer) -> AsyncIterator[OAuthServer]:
    """Serve ``server`` on 127.0.0.1 (a free port) for the duration of the block."""
    config = Config()
    config.bind = ["127.0.0.1:0"]
    config.accesslog = None
    async with trio.open_nursery() as nursery:
        binds = await nursery.start(serve, server, config)
        port = int(binds[0].rpartition(":")[2])
        server.build(f"http://127.0.0.1:{port}")
        yield server
        nursery.cancel_scope.cancel()
