"""Reading ``WWW-Authenticate`` (RFC 9110 section 11.6.1, RFC 6750 section 3).

A header may carry several challenges (``Bearer ..., DPoP ...``), and a response
several headers; parameters are ``name=token`` or ``name="quoted string"`` in any
order. Names are case-insensitive (kept lower-cased); values are kept exactly as
sent (they are compared verbatim later: a ``resource_metadata`` URL, a scope list).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import attrs

__all__ = ["Challenge", "parse_challenges"]

_TCHAR = set("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


@attrs.frozen
class Challenge:
    """One authentication challenge: its scheme (lower-cased) and parameters."""

    scheme: str
    params: Mapping[str, str] = attrs.field(factory=dict)

    @property
    def error(self) -> str | None:
        """The ``error`` code (``invalid_token``, ``insufficient_scope``...), if any."""
        return self.params.get("error")

    @property
    def scope(self) -> str | None:
        """The scopes the server asks for, space-separated (``None`` when absent or blank)."""
        scope = self.params.get("scope")
        return scope if scope and scope.strip() else None

    @property
    def resource_metadata(self) -> str | None:
        """The URL of the server's Protected Resource Metadata (RFC 9728), if given."""
        return self.params.get("resource_metadata") or None

    @property
    def error_description(self) -> str | None:
        """The server's words about the error (for people, not for decisions)."""
        return self.params.get("error_description")


def _token(text: str, i: int) -> tuple[str, int]:
    start = i
    while i < len(text) and text[i] in _TCHAR:
        i += 1
    return text[start:i], i


def _spaces(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t":
        i += 1
    return i


def _quoted(text: str, i: int) -> tuple[str, int]:
    # text[i] == '"'
    out = []
    i += 1
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
            continue
        if c == '"':
            return "".join(out), i + 1
        out.append(c)
        i += 1
    return "".join(out), i


def _parse_one(text: str) -> list[Challenge]:
    challenges: list[Challenge] = []
    current: Challenge | None = None
    i = 0
    while i < len(text):
        i = _spaces(text, i)
        if i < len(text) and text[i] == ",":
            i += 1
            continue
        name, j = _token(text, i)
        if not name:
            i += 1  # skip a stray character
            continue
        k = _spaces(text, j)
        if k < len(text) and text[k] == "=" and current is not None:
            k = _spaces(text, k + 1)
            if k < len(text) and text[k] == '"':
                value, k = _quoted(text, k)
            else:
                end = k
                while end < len(text) and text[end] not in ", \t":
                    end += 1
                value, k = text[k:end], end
            params = dict(current.params)
            params.setdefault(name.lower(), value)
            current = Challenge(current.scheme, params)
            challenges[-1] = current
            i = k
            continue
        if k < len(text) and text[k] == "=":  # a parameter before any scheme: skip it
            i = k + 1
            continue
        # a new challenge; its parameters follow (token68 credentials are not used here)
        current = Challenge(name.lower())
        challenges.append(current)
        i = j
    return challenges


def parse_challenges(headers: Iterable[str]) -> list[Challenge]:
    """Every challenge of the given ``WWW-Authenticate`` header values, in order."""
    found: list[Challenge] = []
    for value in headers:
        found.extend(_parse_one(value))
    return found


def find_challenge(headers: Iterable[str], *schemes: str) -> Challenge | None:
    """The first challenge with one of ``schemes`` (lower-case), else the first of any."""
    challenges = parse_challenges(headers)
    for challenge in challenges:
        if challenge.scheme in schemes:
            return challenge
    return challenges[0] if challenges else None
