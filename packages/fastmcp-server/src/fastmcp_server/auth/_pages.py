"""The two pages an ``OAuthProxy`` shows a browser: the consent page and the error page.

Everything shown is escaped (a client's name and redirect URI are chosen by whoever
registered it). The pages may not be framed (``frame-ancestors 'none'`` and
``X-Frame-Options: DENY``: no clickjacking of the Allow button), load nothing
(``default-src 'none'``), are never cached, and send no referrer.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

__all__ = ["PAGE_HEADERS", "consent_page", "error_page"]

PAGE_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-type", b"text/html; charset=utf-8"),
    (b"cache-control", b"no-store"),
    (b"pragma", b"no-cache"),
    (b"x-frame-options", b"DENY"),
    (
        b"content-security-policy",
        b"default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
    ),
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
)

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:36em;margin:3em auto;padding:0 1em;"
    "line-height:1.5;color:#222}code{background:#f3f3f3;padding:.1em .3em;word-break:break-all}"
    "button{font-size:1em;padding:.5em 1.5em;margin-right:1em}"
)


def _page(title: str, body: str) -> bytes:
    return (
        "<!doctype html><html lang=en><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style>"
        f"<body><h1>{escape(title)}</h1>{body}</body></html>"
    ).encode()


def consent_page(
    *,
    action: str,
    consent_id: str,
    client_name: str,
    client_id: str,
    redirect_uri: str,
    scopes: Sequence[str],
    upstream: str,
    server: str,
) -> bytes:
    """The page that asks the user whether ``client_name`` may act for them on
    ``server``, naming where the answer goes (``redirect_uri``) and what it may do."""
    scope_items = "".join(f"<li><code>{escape(s)}</code></li>" for s in scopes)
    scope_text = f"<p>It asks for:</p><ul>{scope_items}</ul>" if scopes else ""
    body = (
        f"<p><strong>{escape(client_name)}</strong> "
        f"(client <code>{escape(client_id)}</code>) wants to use "
        f"<strong>{escape(server)}</strong> as you.</p>"
        f"{scope_text}"
        f"<p>If you allow it, you sign in with {escape(upstream)} next, and the result "
        f"is sent to <code>{escape(redirect_uri)}</code>.</p>"
        "<p>Allow only an application you have just started yourself: a link that "
        "brought you here from elsewhere may be an attempt to act as you.</p>"
        f'<form method=post action="{escape(action)}">'
        f'<input type=hidden name=consent_id value="{escape(consent_id)}">'
        "<button type=submit name=decision value=allow>Allow</button>"
        "<button type=submit name=decision value=deny>Deny</button>"
        "</form>"
    )
    return _page("Allow access?", body)


def error_page(error: str, description: str) -> bytes:
    """A page for an authorization that cannot be sent back to the client."""
    body = f"<p>{escape(description)}</p><p><code>{escape(error)}</code></p>"
    return _page("Authorization failed", body)
