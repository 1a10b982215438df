"""``WWW-Authenticate: Bearer ...`` challenges (RFC 6750 section 3, RFC 9728 section 5.1).

Values are quoted strings; ``error_description`` is limited by RFC 6750 to printable
ASCII without ``"`` and ``\\``, so anything else is dropped from it rather than
escaped.
"""

from __future__ import annotations

__all__ = ["bearer_challenge"]


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _description(text: str) -> str:
    return "".join(c for c in text if 0x20 <= ord(c) <= 0x7E and c not in '"\\')


def bearer_challenge(
    *,
    resource_metadata: str | None,
    scope: str | None = None,
    error: str | None = None,
    description: str | None = None,
) -> bytes:
    """One challenge: ``error`` (and ``error_description``) first, then ``scope`` and
    ``resource_metadata``. Without an error it is the answer to a request that sent
    no credentials at all (RFC 6750 section 3.1)."""
    params = []
    if error is not None:
        params.append(f"error={_quoted(error)}")
        if description:
            params.append(f"error_description={_quoted(_description(description))}")
    if scope:
        params.append(f"scope={_quoted(scope)}")
    if resource_metadata is not None:
        params.append(f"resource_metadata={_quoted(resource_metadata)}")
    return ("Bearer " + ", ".join(params)).rstrip().encode("latin-1")
