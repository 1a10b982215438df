"""The 2026-07-28 era at the HTTP layer: header-to-body checks and status codes.

Theory of operation. Every modern POST carries one JSON-RPC message and mirrors parts
of it into headers (``MCP-Protocol-Version``, ``Mcp-Method``, ``Mcp-Name``) so that
intermediaries can route without reading the body. The server must refuse a request
whose headers and body disagree. ``check_modern`` runs the checks in the order whose
error codes the specification and the conformance suite expect:

1. the request's ``_meta`` lacks ``protocolVersion`` or ``clientCapabilities``, or has
   reserved keys of the wrong type: -32602 (HTTP 400);
2. ``MCP-Protocol-Version`` is missing or differs from ``_meta``: -32020 (400);
3. the version is not one the server speaks: -32022 with ``data.supported`` (400);
4. ``Mcp-Method`` missing or different from ``method``; ``Mcp-Name`` missing,
   undecodable or different from the body's name, uri or task id: -32020 (400).

``Mcp-Param-*`` headers depend on a tool's input schema, which only the server
layer knows: it checks them (with ``decode_header_value``) and answers -32020, which
``status_for_error`` turns into 400 like every other header failure.

``status_for_error`` is the one table from a JSON-RPC error code in a modern final
response to the HTTP status of a JSON response: 400 for header, capability, version
and ``_meta`` errors and for malformed messages, 404 for an unknown method, 200 for
everything else (the error is the answer; the exchange worked).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import msgspec

from fastmcp_protocol import (
    HEADER_MISMATCH,
    INVALID_PARAMS,
    INVALID_REQUEST,
    META_CLIENT_CAPABILITIES,
    META_PROTOCOL_VERSION,
    METHOD_NOT_FOUND,
    MISSING_REQUIRED_CLIENT_CAPABILITY,
    PARSE_ERROR,
    UNSET,
    UNSUPPORTED_PROTOCOL_VERSION,
    JSONRPCNotification,
    JSONRPCRequest,
    McpError,
    UnsetType,
    read_request_meta,
    unsupported_version_error,
)
from fastmcp_transport._http_common import (
    HEADER_METHOD,
    HEADER_NAME,
    HEADER_PROTOCOL_VERSION,
)
from fastmcp_transport.http_server._http import HttpError

__all__ = [
    "DEFAULT_NAME_HEADERS",
    "FrameHead",
    "ModernChecks",
    "decode_header_value",
    "peek_frame",
    "status_for_error",
]

DEFAULT_NAME_HEADERS: Mapping[str, str] = {
    "tools/call": "name",
    "prompts/get": "name",
    "resources/read": "uri",
    # the tasks extension (io.modelcontextprotocol/tasks) names the task it acts on
    "tasks/get": "taskId",
    "tasks/update": "taskId",
    "tasks/cancel": "taskId",
}
"""Which methods must carry ``Mcp-Name``, and the ``params`` member it mirrors."""

_B64_PREFIX = "=?base64?"
_B64_SUFFIX = "?="


def decode_header_value(value: str) -> str:
    """The value a mirrored header (``Mcp-Name``, ``Mcp-Param-*``) stands for.

    A value written ``=?base64?<Base64 of UTF-8>?=`` is decoded (strictly: standard
    alphabet, correct padding); any other value is taken literally, surrounding
    whitespace removed. Raises ``ValueError`` for an undecodable Base64 value or a
    literal value with characters outside visible ASCII, space and tab.
    """
    value = value.strip(" \t")
    if (
        len(value) >= len(_B64_PREFIX) + len(_B64_SUFFIX)
        and value.startswith(_B64_PREFIX)
        and value.endswith(_B64_SUFFIX)
    ):
        encoded = value[len(_B64_PREFIX) : -len(_B64_SUFFIX)]
        try:
            return base64.b64decode(encoded.encode("ascii"), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeError) as exc:
            raise ValueError(f"invalid Base64 value ({exc})") from None
    if any(not (" " <= ch <= "~" or ch == "\t") for ch in value):
        raise ValueError("characters outside visible ASCII must be Base64-encoded")
    return value


class _ErrorHead(msgspec.Struct):
    code: int
    message: str = ""


class FrameHead(msgspec.Struct):
    """What the transport needs to know of an outgoing frame (decoded on demand)."""

    method: str | UnsetType = UNSET
    error: _ErrorHead | UnsetType = UNSET

    @property
    def is_notification_or_request(self) -> bool:
        return self.method is not UNSET


_head_decoder = msgspec.json.Decoder(FrameHead)
_UNREADABLE = FrameHead()


def peek_frame(frame: bytes) -> FrameHead:
    """The method and error of an outgoing frame (an unreadable frame reads as empty)."""
    try:
        return _head_decoder.decode(frame)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        return _UNREADABLE


_BAD_REQUEST_CODES = frozenset(
    {
        PARSE_ERROR,
        INVALID_REQUEST,
        HEADER_MISMATCH,
        MISSING_REQUIRED_CLIENT_CAPABILITY,
        UNSUPPORTED_PROTOCOL_VERSION,
    }
)


def status_for_error(code: int, message: str) -> int:
    """The HTTP status of a modern JSON response carrying a JSON-RPC error.

    -32602 counts as a malformed request (400) only when it is about the request's
    ``_meta`` (the protocol's checks name ``$.params._meta``): an unknown tool or
    resource is an answer, not a broken exchange, and a dual-era client must not
    mistake it for a server of the other era.
    """
    if code in _BAD_REQUEST_CODES:
        return 400
    if code == METHOD_NOT_FOUND:
        return 404
    if code == INVALID_PARAMS and "_meta" in message:
        return 400
    return 200


@attrs.frozen
class ModernChecks:
    """The header-to-body checks of modern POSTs, configured once per app."""

    supported_versions: Sequence[str]
    name_headers: Mapping[str, str] = DEFAULT_NAME_HEADERS
    _params: msgspec.json.Decoder[Any] = attrs.field(init=False)
    _name_attrs: Mapping[str, str] = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        # One struct that reads only ``_meta`` and the members Mcp-Name mirrors;
        # msgspec skips everything else (tool arguments) without building it.
        members = sorted(set(self.name_headers.values()))
        attrs_of = {member: f"m{i}" for i, member in enumerate(members)}
        fields: list[tuple[str, Any, Any]] = [
            ("meta", dict[str, Any] | None, msgspec.field(default=None, name="_meta"))
        ]
        fields += [
            (attrs_of[member], Any, msgspec.field(default=UNSET, name=member)) for member in members
        ]
        struct = msgspec.defstruct("_ModernParams", fields)
        object.__setattr__(self, "_params", msgspec.json.Decoder(struct))
        object.__setattr__(
            self,
            "_name_attrs",
            {method: attrs_of[member] for method, member in self.name_headers.items()},
        )

    def read(self, message: JSONRPCRequest | JSONRPCNotification) -> object | None:
        """What the checks need of ``message``'s params (its ``_meta`` and the members
        ``Mcp-Name`` mirrors), decoded in one pass that skips the rest; ``None``
        without params. Raises ``HttpError`` (400) for params that are not JSON of
        that shape."""
        rid = message.id if isinstance(message, JSONRPCRequest) else None
        return self._decode(message, rid)

    @staticmethod
    def declares_modern(params: object | None) -> bool:
        """Whether params (as ``read`` decoded them) carry the per-request protocol
        version of the modern era."""
        meta = getattr(params, "meta", None)
        return isinstance(meta, dict) and isinstance(meta.get(META_PROTOCOL_VERSION), str)

    def check(
        self,
        message: JSONRPCRequest | JSONRPCNotification,
        headers: Mapping[str, str],
        params: object | UnsetType | None = UNSET,
    ) -> str | None:
        """Check one modern message against its headers; return its protocol version.

        ``params``: what ``read`` made of its params, when it was read already.
        Raises ``HttpError`` (400) naming the first failure (see the module docstring).
        A notification needs no ``_meta``; its headers are checked when present.
        """
        rid = message.id if isinstance(message, JSONRPCRequest) else None
        if params is UNSET:
            params = self._decode(message, rid)
        meta_dict = getattr(params, "meta", None) if params is not None else None
        try:
            meta = read_request_meta(meta_dict)
        except McpError as error:
            raise _http(error, rid) from None
        version = meta.protocol_version
        if rid is not None:
            if version is None:
                raise _meta_lacks(META_PROTOCOL_VERSION, rid)
            if meta.client_capabilities is None:
                raise _meta_lacks(META_CLIENT_CAPABILITIES, rid)
        header_version = headers.get(HEADER_PROTOCOL_VERSION)
        if header_version is None:
            if rid is not None or version is not None:
                raise _mismatch("the MCP-Protocol-Version header is missing", rid)
        else:
            header_version = header_version.strip()
            if version is not None and header_version != version:
                raise _mismatch(
                    f"MCP-Protocol-Version header value {header_version!r} does not match "
                    f"body value {version!r}",
                    rid,
                )
            version = header_version
        if version is not None and version not in self.supported_versions:
            raise _http(unsupported_version_error(version, self.supported_versions), rid)
        self._check_method(message, headers, rid)
        if rid is not None:
            self._check_name(message.method, params, headers, rid)
        return version

    def _decode(self, message: JSONRPCRequest | JSONRPCNotification, rid: Any) -> object | None:
        if message.params is UNSET:
            return None
        try:
            params: object = self._params.decode(message.params)
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
            raise HttpError(
                400, INVALID_PARAMS, f"Invalid params: {exc} (in `$.params._meta`)", request_id=rid
            ) from None
        return params

    @staticmethod
    def _check_method(
        message: JSONRPCRequest | JSONRPCNotification, headers: Mapping[str, str], rid: Any
    ) -> None:
        header = headers.get(HEADER_METHOD)
        if header is None:
            if rid is not None:
                raise _mismatch("the Mcp-Method header is missing", rid)
            return
        header = header.strip()
        if header != message.method:
            raise _mismatch(
                f"Mcp-Method header value {header!r} does not match body value {message.method!r}",
                rid,
            )

    def _check_name(
        self, method: str, params: object | None, headers: Mapping[str, str], rid: Any
    ) -> None:
        attr = self._name_attrs.get(method)
        if attr is None:
            return
        body = getattr(params, attr, UNSET) if params is not None else UNSET
        header = headers.get(HEADER_NAME)
        if header is None:
            if body is UNSET:
                return  # nothing to mirror; the server reports the missing member
            raise _mismatch(f"the Mcp-Name header is missing (required for {method})", rid)
        try:
            value = decode_header_value(header)
        except ValueError as exc:
            raise _mismatch(f"Mcp-Name header value is invalid: {exc}", rid) from None
        if not isinstance(body, str) or value != body:
            shown = body if body is not UNSET else None
            raise _mismatch(
                f"Mcp-Name header value {value!r} does not match body value {shown!r}", rid
            )


def _http(error: McpError, rid: Any) -> HttpError:
    return HttpError(400, error.code, error.message, request_id=rid, data=error.data)


def _meta_lacks(key: str, rid: Any) -> HttpError:
    return HttpError(
        400,
        INVALID_PARAMS,
        f"Invalid params: `$.params._meta` lacks required `{key}`",
        request_id=rid,
    )


def _mismatch(detail: str, rid: Any) -> HttpError:
    return HttpError(400, HEADER_MISMATCH, f"Header mismatch: {detail}", request_id=rid)
