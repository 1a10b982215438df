"""Ready ``OAuthProxy`` presets: ``GitHubProvider``, ``OIDCProxy`` (any OpenID Connect
issuer, by discovery) and ``GoogleProvider``.

Each takes the credentials registered with the provider (``client_id``,
``client_secret``) and this server's public ``base_url``; the provider's redirect URI
to register is ``base_url + redirect_path`` (``/auth/callback`` by default, see
``OAuthProxy.callback_url``). Every other ``OAuthProxy`` option is accepted as a
keyword. The provider's own URLs can be replaced (a GitHub Enterprise server, a test
double on 127.0.0.1).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import trio

from fastmcp_server.auth._proxy import OAuthProxy, UpstreamEndpoints
from fastmcp_server.auth._upstream import UpstreamError, UpstreamIdentity, UpstreamTokens

__all__ = ["GitHubProvider", "GoogleProvider", "OIDCProxy"]

GITHUB_API_HEADERS = {"accept": "application/vnd.github+json", "x-github-api-version": "2022-11-28"}


class GitHubProvider(OAuthProxy):
    """Sign in with GitHub (an OAuth App, or a GitHub App's user authorization).

    ::

        auth = GitHubProvider(
            client_id="Ov23li...", client_secret="...", base_url="https://mcp.example.com"
        )

    The identity is GitHub's user (``GET /user``): ``subject`` the numeric user id
    (stable across renames), ``login``, ``name``, and ``email`` - the public one, else
    the primary verified address (``GET /user/emails``, with the ``user:email`` scope
    asked for by default). ``provider`` is ``"github"``. ``api_base_url``,
    ``authorization_endpoint`` and ``token_endpoint`` point elsewhere for GitHub
    Enterprise Server. GitHub's tokens carry no refresh token unless the app asks for
    expiring ones; the proxy's own tokens do not depend on them.
    """

    api_base_url: str

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        base_url: str,
        upstream_scopes: str | Sequence[str] = ("read:user", "user:email"),
        api_base_url: str = "https://api.github.com",
        authorization_endpoint: str = "https://github.com/login/oauth/authorize",
        token_endpoint: str = "https://github.com/login/oauth/access_token",
        **options: Any,
    ) -> None:
        options.setdefault("upstream_name", "GitHub")
        options.setdefault("token_endpoint_auth_method", "client_secret_post")
        super().__init__(
            base_url=base_url,
            upstream_client_id=client_id,
            upstream_client_secret=client_secret,
            upstream_authorization_endpoint=authorization_endpoint,
            upstream_token_endpoint=token_endpoint,
            upstream_scopes=upstream_scopes,
            **options,
        )
        self.api_base_url = api_base_url.rstrip("/")

    async def upstream_identity(
        self, tokens: UpstreamTokens, *, nonce: str | None = None
    ) -> UpstreamIdentity:
        """The GitHub user the token belongs to (see the class docstring)."""
        user = await self.upstream_json(f"{self.api_base_url}/user", tokens, GITHUB_API_HEADERS)
        user_id = user.get("id")
        login = user.get("login")
        if not isinstance(user_id, int) or not isinstance(login, str):
            raise UpstreamError("GitHub's /user answer has no id and login")
        email = user.get("email") if isinstance(user.get("email"), str) else None
        verified: bool | None = None
        if email is None and "user:email" in (tokens.scope or " ".join(self.upstream_scopes)):
            email = await self._primary_email(tokens)
            verified = True if email is not None else None
        name = user.get("name")
        return UpstreamIdentity(
            subject=str(user_id),
            provider="github",
            login=login,
            email=email,
            email_verified=verified,
            name=name if isinstance(name, str) and name else None,
            claims=user,
        )

    async def _primary_email(self, tokens: UpstreamTokens) -> str | None:
        try:
            emails = await self.upstream_get(
                f"{self.api_base_url}/user/emails", tokens, GITHUB_API_HEADERS
            )
        except UpstreamError:
            return None  # the email is a nicety, not a reason to refuse the sign-in
        if not isinstance(emails, list):
            return None
        for entry in emails:
            if isinstance(entry, dict) and entry.get("primary") and entry.get("verified"):
                address = entry.get("email")
                return address if isinstance(address, str) else None
        return None


class OIDCProxy(OAuthProxy):
    """Sign in with any OpenID Connect provider, its endpoints discovered.

    ::

        auth = OIDCProxy(
            config_url="https://login.example.com/.well-known/openid-configuration",
            client_id="...", client_secret="...", base_url="https://mcp.example.com",
        )

    ``config_url`` is the provider's discovery document (OpenID Connect Discovery),
    fetched when first needed and kept; a failed fetch is tried again at the next
    sign-in (meanwhile clients are told ``temporarily_unavailable``). Its ``issuer``
    must be the URL the document was found under (discovery section 4.3), and is then
    required in ID tokens. The identity comes from the ``userinfo`` endpoint and the
    ID token (``sub``, ``preferred_username``, ``email``, ``name``); ``provider`` is
    the issuer. ``upstream_scopes`` defaults to ``openid email profile``.
    """

    config_url: str

    def __init__(
        self,
        *,
        config_url: str,
        client_id: str,
        client_secret: str | None = None,
        base_url: str,
        upstream_scopes: str | Sequence[str] = ("openid", "email", "profile"),
        **options: Any,
    ) -> None:
        options.setdefault("upstream_name", urlsplit(config_url).hostname or config_url)
        super().__init__(
            base_url=base_url,
            upstream_client_id=client_id,
            upstream_client_secret=client_secret,
            upstream_scopes=upstream_scopes,
            **options,
        )
        self.config_url = config_url
        self._endpoints: UpstreamEndpoints | None = None
        self._discovery = trio.Lock()

    async def upstream_endpoints(self) -> UpstreamEndpoints:
        """The endpoints of the discovery document (fetched once; see the class)."""
        if self._endpoints is not None:
            return self._endpoints
        async with self._discovery:
            if self._endpoints is None:
                self._endpoints = await self._discover()
            return self._endpoints

    async def _discover(self) -> UpstreamEndpoints:
        document = await self.upstream_get(self.config_url, None)
        if not isinstance(document, dict):
            raise UpstreamError(f"{self.config_url} is not a discovery document")
        issuer = document.get("issuer")
        if not isinstance(issuer, str) or (
            issuer.rstrip("/") + "/.well-known/openid-configuration" != self.config_url
        ):
            raise UpstreamError(
                f"the discovery document at {self.config_url} names the issuer {issuer!r}"
            )
        authorization = document.get("authorization_endpoint")
        token = document.get("token_endpoint")
        userinfo = document.get("userinfo_endpoint")
        if not isinstance(authorization, str) or not isinstance(token, str):
            raise UpstreamError(f"{self.config_url} names no authorization or token endpoint")
        return UpstreamEndpoints(
            authorization_endpoint=authorization,
            token_endpoint=token,
            userinfo_endpoint=userinfo if isinstance(userinfo, str) else None,
            issuer=issuer,
        )


class GoogleProvider(OIDCProxy):
    """Sign in with Google (an OAuth client of type "Web application" in the Google
    Cloud console, with ``base_url + redirect_path`` as its redirect URI).

    ::

        auth = GoogleProvider(
            client_id="123-abc.apps.googleusercontent.com", client_secret="...",
            base_url="https://mcp.example.com",
        )

    An ``OIDCProxy`` for ``https://accounts.google.com``: the identity's ``subject``
    is Google's ``sub``, ``login`` and ``email`` the Google address,
    ``email_verified`` and ``name`` as Google says. ``config_url`` can point
    elsewhere (a test double).
    """

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        base_url: str,
        config_url: str = "https://accounts.google.com/.well-known/openid-configuration",
        **options: Any,
    ) -> None:
        options.setdefault("upstream_name", "Google")
        super().__init__(
            config_url=config_url,
            client_id=client_id,
            client_secret=client_secret,
            base_url=base_url,
            **options,
        )
