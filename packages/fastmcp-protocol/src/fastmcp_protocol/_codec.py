"""Encoding and decoding: the JSON-RPC envelope once, payloads once their type is known.

Theory of operation: ``decode_message`` parses a frame into one of the four
envelope structs in a single msgspec pass, leaving ``params``/``result`` as raw
JSON. The receiver looks the method up (``METHODS``), then calls ``decode_params``
(or ``decode_result``) with the typed struct, which converts the raw bytes straight
into it. Every failure becomes an ``McpError`` with the code JSON-RPC prescribes:
-32700 for bytes that are not JSON, -32600 for JSON that is not a valid message,
-32602 for params of the wrong shape (the message names the offending field). A
result of the wrong shape is this side's problem, not an answer to send: it raises
``UnexpectedResult`` (a local error, also -32602).

All decoders share one decode hook that resolves the protocol's untagged unions
(see ``_content`` and ``_messages``); use ``decoder``/``decode``/``convert`` from here
rather than bare msgspec to decode MCP types.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar, cast

import msgspec

from fastmcp_protocol._base import UNSET, Error, RequestId, UnsetType
from fastmcp_protocol._content import (
    BlobResourceContents,
    TextResourceContents,
    _ResourceContentsChoice,
)
from fastmcp_protocol._errors import (
    INVALID_PARAMS,
    INVALID_REQUEST,
    PARSE_ERROR,
    MalformedMessage,
    McpError,
    UnexpectedResult,
)
from fastmcp_protocol._jsonrpc import (
    JSONRPCErrorResponse,
    JSONRPCMessage,
    JSONRPCNotification,
    JSONRPCRequest,
    JSONRPCResultResponse,
)
from fastmcp_protocol._messages import (
    CallToolResult,
    CreateMessageResult,
    ElicitRequestFormParams,
    ElicitRequestURLParams,
    ElicitResult,
    GetPromptResult,
    InputRequiredResult,
    ListRootsResult,
    ReadResourceResult,
    _ElicitParamsChoice,
    _InputResponseChoice,
    _PromptOutcome,
    _ReadOutcome,
    _ToolCallOutcome,
)

__all__ = [
    "convert",
    "decode",
    "decode_answer",
    "decode_message",
    "decode_params",
    "decode_result",
    "decoder",
    "encode",
    "encode_error",
    "encode_notification",
    "encode_request",
    "encode_result",
]

T = TypeVar("T")


# -- the decode hook for untagged unions -------------------------------------------------


def _resource_contents(obj: dict[str, Any]) -> object:
    return msgspec.convert(
        obj, BlobResourceContents if "blob" in obj else TextResourceContents, dec_hook=_hook
    )


def _elicit_params(obj: dict[str, Any]) -> object:
    if obj.get("mode") == "url":
        return msgspec.convert(obj, ElicitRequestURLParams, dec_hook=_hook)
    if "mode" not in obj:  # the 2025-06-18 shape has no mode
        obj = {**obj, "mode": "form"}
    return msgspec.convert(obj, ElicitRequestFormParams, dec_hook=_hook)


def _input_response(obj: dict[str, Any]) -> object:
    if "action" in obj:
        return msgspec.convert(obj, ElicitResult, dec_hook=_hook)
    if "roots" in obj:
        return msgspec.convert(obj, ListRootsResult, dec_hook=_hook)
    return msgspec.convert(obj, CreateMessageResult, dec_hook=_hook)


def _outcome(complete: type) -> Callable[[dict[str, Any]], object]:
    def resolve(obj: dict[str, Any]) -> object:
        kind = InputRequiredResult if obj.get("resultType") == "input_required" else complete
        return msgspec.convert(obj, kind, dec_hook=_hook)

    return resolve


_CHOICES: dict[type, Callable[[dict[str, Any]], object]] = {
    _ResourceContentsChoice: _resource_contents,
    _ElicitParamsChoice: _elicit_params,
    _InputResponseChoice: _input_response,
    _ToolCallOutcome: _outcome(CallToolResult),
    _PromptOutcome: _outcome(GetPromptResult),
    _ReadOutcome: _outcome(ReadResourceResult),
}


def _hook(type_: type, obj: Any) -> Any:
    resolve = _CHOICES.get(type_)
    if resolve is None:
        raise NotImplementedError(f"no decoder for {type_!r}")
    if not isinstance(obj, dict):
        raise msgspec.ValidationError(f"Expected `object`, got `{type(obj).__name__}`")
    return resolve(cast(dict[str, Any], obj))


# -- generic decoding --------------------------------------------------------------------

_decoders: dict[Any, msgspec.json.Decoder[Any]] = {}


def decoder(type_: type[T]) -> msgspec.json.Decoder[T]:
    """A cached JSON decoder for ``type_`` that understands every MCP type."""
    found = _decoders.get(type_)
    if found is None:
        found = _decoders[type_] = msgspec.json.Decoder(type_, dec_hook=_hook)
    return found


def decode(data: bytes | str, type_: type[T]) -> T:
    """Decode JSON into ``type_``; raises ``msgspec.DecodeError``/``ValidationError``."""
    return decoder(type_).decode(data)


def convert(obj: Any, type_: type[T]) -> T:
    """Convert already-parsed JSON (dicts, lists, ...) into ``type_``."""
    return msgspec.convert(obj, type_, dec_hook=_hook)


_EMPTY_OBJECT = b"{}"


def decode_params(params: msgspec.Raw | UnsetType | bytes, type_: type[T]) -> T:
    """Convert a request's raw ``params`` into its typed struct.

    Absent params decode as ``{}``, so a method whose params are all optional needs
    none. Raises ``McpError(-32602)`` whose message names the offending field.
    """
    raw = _EMPTY_OBJECT if params is UNSET else params
    try:
        return decoder(type_).decode(raw)
    except (msgspec.DecodeError, RecursionError, UnicodeDecodeError) as exc:
        # The envelope pass skips nested strings unchecked, so bytes that are not
        # UTF-8 surface here, each msgspec release naming them its own way: the bytes
        # themselves decide between "not JSON" and "JSON of the wrong shape".
        invalid_utf8 = _invalid_utf8(raw)
        if invalid_utf8 is not None:
            raise McpError(
                PARSE_ERROR, f"Parse error: invalid UTF-8 in params ({invalid_utf8})"
            ) from None
        raise McpError(INVALID_PARAMS, f"Invalid params: {_describe(exc)}") from None


def _invalid_utf8(data: msgspec.Raw | bytes) -> str | None:
    """Why ``data`` is not UTF-8, or ``None`` when it is (only asked on a failure)."""
    try:
        bytes(data).decode("utf-8")
    except UnicodeDecodeError as exc:
        return str(exc.reason)
    return None


def _describe(exc: Exception) -> str:
    if isinstance(exc, RecursionError):
        return "JSON is nested too deeply"
    return str(exc)


def decode_result(result: msgspec.Raw | bytes, type_: type[T]) -> T:
    """Convert a response's raw ``result`` into its typed struct.

    Raises ``UnexpectedResult`` (-32602) when the peer's result does not have the
    shape the method promises (the caller learns which field).
    """
    try:
        return decoder(type_).decode(result)
    except (msgspec.DecodeError, RecursionError, UnicodeDecodeError) as exc:
        raise UnexpectedResult(f"Invalid result: {_describe(exc)}") from None


# -- the envelope ------------------------------------------------------------------------


class _Envelope(msgspec.Struct, gc=False):
    """Every member any JSON-RPC message may have; classified after one decode."""

    jsonrpc: str | UnsetType = UNSET
    id: int | str | UnsetType | None = UNSET
    method: str | UnsetType = UNSET
    params: msgspec.Raw | UnsetType = UNSET
    result: msgspec.Raw | UnsetType = UNSET
    error: Error | UnsetType = UNSET


_frame_decoder = msgspec.json.Decoder(_Envelope | list[msgspec.Raw])
_item_decoder = msgspec.json.Decoder(_Envelope)


def _bad_request(message: str, id: RequestId | None = None) -> MalformedMessage:
    return MalformedMessage(INVALID_REQUEST, message, id)


def _classify(env: _Envelope) -> JSONRPCMessage:
    rid = env.id
    if env.jsonrpc != "2.0":
        raise _bad_request('Invalid request: "jsonrpc" must be "2.0"', _readable(rid))
    if env.method is not UNSET:
        params = env.params
        if params is not UNSET and not bytes(params).lstrip().startswith(b"{"):
            raise _bad_request('Invalid request: "params" must be an object', _readable(rid))
        if rid is UNSET:
            return JSONRPCNotification(method=env.method, params=params)
        if rid is None:
            raise _bad_request('Invalid request: a request "id" must not be null')
        return JSONRPCRequest(id=rid, method=env.method, params=params)
    if env.error is not UNSET:
        return JSONRPCErrorResponse(id=rid, error=env.error)
    if env.result is not UNSET:
        if rid is UNSET or rid is None:
            raise _bad_request('Invalid response: "id" is missing')
        return JSONRPCResultResponse(id=rid, result=env.result)
    raise _bad_request(
        'Invalid request: a message needs "method", "result" or "error"', _readable(rid)
    )


def _readable(rid: RequestId | UnsetType | None) -> RequestId | None:
    return None if rid is UNSET else rid


def _decode_error(exc: Exception) -> MalformedMessage:
    if isinstance(exc, msgspec.ValidationError):
        return _bad_request(f"Invalid request: {exc}")
    if isinstance(exc, RecursionError):
        return _bad_request("Invalid request: JSON is nested too deeply")
    if isinstance(exc, UnicodeDecodeError):
        return MalformedMessage(PARSE_ERROR, f"Parse error: invalid UTF-8 ({exc.reason})")
    return MalformedMessage(PARSE_ERROR, f"Parse error: {exc}")


_DECODE_ERRORS = (msgspec.DecodeError, RecursionError, UnicodeDecodeError)


def decode_message(frame: bytes | str) -> JSONRPCMessage | list[JSONRPCMessage | MalformedMessage]:
    """Decode one frame: a single message, or (a JSON array) a batch.

    A malformed frame raises ``MalformedMessage``: ``PARSE_ERROR`` when it is not
    JSON, ``INVALID_REQUEST`` when it is JSON but not a message; its ``request_id``
    is the id to answer (``None`` when unreadable). In a batch (a JSON array; only
    2025-03-26 allows them, the receiver decides), each malformed member is returned
    as a ``MalformedMessage`` in its place; an empty batch is itself invalid.
    """
    try:
        decoded = _frame_decoder.decode(frame)
    except _DECODE_ERRORS as exc:
        raise _decode_error(exc) from None
    if isinstance(decoded, _Envelope):
        return _classify(decoded)
    if not decoded:
        raise _bad_request("Invalid request: empty batch")
    out: list[JSONRPCMessage | MalformedMessage] = []
    for item in decoded:
        try:
            out.append(_classify(_item_decoder.decode(item)))
        except _DECODE_ERRORS as exc:
            out.append(_decode_error(exc))
        except MalformedMessage as exc:
            out.append(exc)
    return out


class _Answer(msgspec.Struct, Generic[T], gc=False):
    """A result response whose result type is known before it arrives."""

    jsonrpc: str
    id: int | str
    result: T
    error: msgspec.Raw | UnsetType = UNSET
    method: msgspec.Raw | UnsetType = UNSET


_answer_decoders: dict[Any, msgspec.json.Decoder[Any]] = {}


def decode_answer(frame: bytes, result_type: type[T]) -> tuple[RequestId, T] | None:
    """A frame that is a result response whose result is a ``result_type``, decoded
    in one pass: ``(id, result)``. ``None`` when it is anything else (another
    message, an error response, a result of another shape, or not JSON): decode it
    with ``decode_message`` then. For a caller that knows what it waits for; it is
    not stricter or looser than ``decode_message`` followed by ``decode_result``.
    A ``result_type`` msgspec cannot decode into gives ``None`` too, whatever the
    frame: the frame may be another request's answer, and ``decode_result`` tells
    the caller what is wrong with its type."""
    try:
        found = _answer_decoders.get(result_type)
        if found is None:
            answer_type: Any = _Answer[result_type]  # type: ignore[valid-type]
            found = msgspec.json.Decoder(answer_type, dec_hook=_hook)
            _answer_decoders[result_type] = found
        answer = found.decode(frame)
    except (*_DECODE_ERRORS, NotImplementedError, TypeError):
        return None  # NotImplementedError: ``_hook``'s; TypeError: an unsupported type
    if answer.jsonrpc != "2.0" or answer.error is not UNSET or answer.method is not UNSET:
        return None  # not a result response, as ``decode_message`` tells them apart
    return answer.id, answer.result


# -- encoding ----------------------------------------------------------------------------
# Outgoing messages are written through small private structs whose payload field is
# ``Any``, so a typed result struct is encoded in the same pass as its envelope.


class _RequestOut(msgspec.Struct, gc=False):
    jsonrpc: str
    id: RequestId
    method: str
    params: Any = UNSET


class _NotificationOut(msgspec.Struct, gc=False):
    jsonrpc: str
    method: str
    params: Any = UNSET


class _ResultOut(msgspec.Struct, gc=False):
    jsonrpc: str
    id: RequestId
    result: Any


class _ErrorOut(msgspec.Struct, gc=False):
    jsonrpc: str
    id: RequestId | None
    error: Error


_encoder = msgspec.json.Encoder()
encode: Callable[[Any], bytes] = _encoder.encode
"""Encode any MCP value (struct, dict, list, ...) to JSON bytes."""


def encode_request(id: RequestId, method: str, params: Any = UNSET) -> bytes:
    """Encode a request; ``params`` may be a struct, a dict or ``msgspec.Raw``."""
    return _encoder.encode(_RequestOut("2.0", id, method, params))


def encode_notification(method: str, params: Any = UNSET) -> bytes:
    """Encode a notification."""
    return _encoder.encode(_NotificationOut("2.0", method, params))


def encode_result(id: RequestId, result: Any) -> bytes:
    """Encode a successful response; ``result`` is encoded in the same pass."""
    return _encoder.encode(_ResultOut("2.0", id, result))


def encode_error(
    id: RequestId | None, code: int | McpError, message: str = "", data: Any = UNSET
) -> bytes:
    """Encode an error response (from an ``McpError`` or from its parts)."""
    if isinstance(code, McpError):
        error = code.to_error()
    else:
        error = Error(code=code, message=message, data=data)
    return _encoder.encode(_ErrorOut("2.0", id, error))
