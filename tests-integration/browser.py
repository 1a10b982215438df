"""A scripted browser for the OAuth proxy tests: what a user's browser does, with httpx.

It follows redirects one at a time (cookies kept, as a browser keeps them), fills in
and submits the forms of the pages it is shown (the proxy's consent page, the
identity provider's login page) with the answers it was given, and stops at the
redirect to the client's redirect URI, which it hands back unopened (nothing listens
there). It is a ``RedirectHandler``, so our OAuth client can use it as the user.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import attrs
import httpx

from fastmcp_client.auth import AuthorizationError, AuthorizationResponse


@attrs.define
class Form:
    action: str = ""
    method: str = "get"
    fields: dict[str, str] = attrs.field(factory=dict)
    buttons: dict[str, list[str]] = attrs.field(factory=dict)
    inputs: list[str] = attrs.field(factory=list)


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.form: Form | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        if tag == "form" and self.form is None:
            self.form = Form(found.get("action", ""), found.get("method", "get").lower())
        elif self.form is None:
            return
        elif tag == "input" and found.get("type") == "hidden":
            self.form.fields[found["name"]] = found.get("value", "")
        elif tag == "input":
            self.form.inputs.append(found["name"])
        elif tag == "button":
            self.form.buttons.setdefault(found["name"], []).append(found.get("value", ""))


def parse_form(page: str) -> Form | None:
    parser = _FormParser()
    parser.feed(page)
    return parser.form


def text_of(page: str) -> str:
    """What a page says, without its markup."""
    page = re.sub(r"<style>.*?</style>|<title>.*?</title>", "", page, flags=re.DOTALL)
    return " ".join(re.sub(r"<[^>]+>", " ", page).split())


def same_endpoint(url: str, other: str) -> bool:
    a, b = urlsplit(url), urlsplit(other)
    return (a.scheme, a.netloc, a.path) == (b.scheme, b.netloc, b.path)


@attrs.define
class ScriptedBrowser:
    """Follows an authorization URL to the redirect back to ``redirect_uri``.

    ``answers`` fill the forms: a text input gets its answer, and of a form's
    buttons the one whose name has an answer among its values is pressed (a form it
    cannot answer is an ``AuthorizationError``). ``pages`` keeps the text of every
    page shown, ``visits`` every URL requested.
    """

    http: httpx.AsyncClient
    redirect_uri: str = "http://127.0.0.1:9/callback"
    answers: Mapping[str, str] = attrs.field(
        factory=lambda: {"decision": "allow", "login_decision": "approve", "username": "alice"}
    )
    pages: list[str] = attrs.field(factory=list)
    visits: list[str] = attrs.field(factory=list)
    max_steps: int = 12

    async def authorize(self, authorization_url: str) -> AuthorizationResponse:
        """Browse from ``authorization_url`` until sent back to ``redirect_uri``."""
        final = await self.browse(authorization_url)
        return AuthorizationResponse.from_redirect(final)

    async def browse(self, url: str) -> str:
        """The URL under ``redirect_uri`` the browsing ends at."""
        method, data = "GET", None
        for _ in range(self.max_steps):
            self.visits.append(url)
            response = await self.http.request(method, url, data=data, follow_redirects=False)
            location = response.headers.get("location")
            if response.is_redirect and location:
                target = urljoin(url, location)
                if same_endpoint(target, self.redirect_uri):
                    return target
                url, method, data = target, "GET", None
                continue
            self.pages.append(response.text)
            form = parse_form(response.text) if response.status_code == 200 else None
            if form is None:
                raise AuthorizationError(
                    f"the browser was shown HTTP {response.status_code}: {text_of(response.text)}"
                )
            fields = dict(form.fields)
            for name in form.inputs:
                fields[name] = self.answers[name]
            for name, values in form.buttons.items():
                if self.answers.get(name) in values:
                    fields[name] = self.answers[name]
                    break
            else:
                raise AuthorizationError(f"no answer for the buttons {form.buttons}")
            url = urljoin(url, form.action)
            method, data = form.method.upper(), fields
        raise AuthorizationError("too many steps")
