"""``auth_from_environment``: the server's authorization, configured by environment
variables (what ``fastmcp run --server-auth`` uses; a deployment sets them once).

=====================================  ==============================================
``FASTMCP_SERVER_AUTH``                ``static``, ``github``, ``google`` or ``oidc``
``FASTMCP_SERVER_AUTH_TOKENS``         static: a JSON object, token -> its entry
                                       (``{"dev-token": {"client_id": "me",
                                       "scopes": ["mcp"]}}``, see StaticTokenVerifier)
``FASTMCP_SERVER_AUTH_CLIENT_ID``      the client id registered with the provider
``FASTMCP_SERVER_AUTH_CLIENT_SECRET``  its secret
``FASTMCP_SERVER_AUTH_BASE_URL``       this server's public URL (default: the URL it
                                       binds, given by the caller)
``FASTMCP_SERVER_AUTH_CONFIG_URL``     oidc: the discovery document's URL
``FASTMCP_SERVER_AUTH_REQUIRED_SCOPES``  scopes every request needs (space-separated)
``FASTMCP_SERVER_AUTH_UPSTREAM_SCOPES``  scopes asked of the provider (its defaults)
``FASTMCP_SERVER_AUTH_JWT_SIGNING_KEY``  the secret signing the proxy's tokens
``FASTMCP_SERVER_AUTH_REDIRECT_PATH``  the callback path (default ``/auth/callback``)
=====================================  ==============================================
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import msgspec

from fastmcp_server._settings import AUTH_KINDS  # one home: the settings table

__all__ = ["AUTH_KINDS", "auth_from_environment"]

_PREFIX = "FASTMCP_SERVER_AUTH"


def _need(environ: Mapping[str, str], name: str, kind: str) -> str:
    value = environ.get(f"{_PREFIX}_{name}")
    if not value:
        raise ValueError(f"{kind} authorization needs {_PREFIX}_{name}")
    return value


def auth_from_environment(
    kind: str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    base_url: str | None = None,
) -> Any:
    """The ``auth=`` the environment describes (see the module docstring), or ``None``
    when ``kind`` is not given and ``FASTMCP_SERVER_AUTH`` is not set. ``base_url`` is
    the default of ``FASTMCP_SERVER_AUTH_BASE_URL``. A missing or malformed setting is
    a ``ValueError`` naming the variable."""
    env = os.environ if environ is None else environ
    kind = kind or env.get(_PREFIX) or None
    if kind is None:
        return None
    if kind not in AUTH_KINDS:
        raise ValueError(f"{_PREFIX} is {kind!r}: use one of {', '.join(AUTH_KINDS)}")
    required = env.get(f"{_PREFIX}_REQUIRED_SCOPES", "").replace(",", " ").split()
    if kind == "static":
        from fastmcp_server.auth._static import StaticTokenVerifier

        try:
            tokens = msgspec.json.decode(_need(env, "TOKENS", kind))
        except msgspec.DecodeError:
            raise ValueError(f"{_PREFIX}_TOKENS is not JSON") from None
        if not isinstance(tokens, dict) or not all(isinstance(v, dict) for v in tokens.values()):
            raise ValueError(f"{_PREFIX}_TOKENS must be a JSON object of token -> entry")
        return StaticTokenVerifier(tokens, required_scopes=required)
    options: dict[str, Any] = {
        "client_id": _need(env, "CLIENT_ID", kind),
        "client_secret": _need(env, "CLIENT_SECRET", kind),
        "base_url": env.get(f"{_PREFIX}_BASE_URL") or base_url or _need(env, "BASE_URL", kind),
        "required_scopes": required,
    }
    upstream = env.get(f"{_PREFIX}_UPSTREAM_SCOPES")
    if upstream:
        options["upstream_scopes"] = upstream.replace(",", " ").split()
    for name, option in (
        ("JWT_SIGNING_KEY", "jwt_signing_key"),
        ("REDIRECT_PATH", "redirect_path"),
    ):
        value = env.get(f"{_PREFIX}_{name}")
        if value:
            options[option] = value
    from fastmcp_server.auth import _providers

    if kind == "github":
        return _providers.GitHubProvider(**options)
    if kind == "google":
        return _providers.GoogleProvider(**options)
    return _providers.OIDCProxy(config_url=_need(env, "CONFIG_URL", kind), **options)
