"""fastmcp-protocol: every MCP message of every released version, sans-IO.

msgspec structs for each definition of the official schemas (named as the schema
names them; the newest shapes, widened to read older ones), the JSON-RPC envelope
and codec, the method table, and the negotiation helpers of both protocol eras.
No I/O, no trio, no global state: every transport and both peers build on it.

Quick tour::

    from fastmcp_protocol import decode_message, decode_params, METHODS, encode_result

    message = decode_message(frame)           # the envelope, params still raw
    spec = METHODS[message.method]            # what the method carries
    params = decode_params(message.params, spec.params)
    frame = encode_result(message.id, result) # the typed result, in one pass

Versions: ``schema_definitions(version)`` maps every definition name of a released
schema to its Python type; ``prepare_result(result, version)`` shapes an outgoing
result for a peer of that version.
"""

import typing as _typing

from fastmcp_protocol import (
    _authorization,
    _base,
    _capabilities,
    _codec,
    _content,
    _eras,
    _errors,
    _jsonrpc,
    _messages,
    _methods,
    _versions,
)
from fastmcp_protocol._authorization import *  # noqa: F403
from fastmcp_protocol._base import *  # noqa: F403
from fastmcp_protocol._capabilities import *  # noqa: F403
from fastmcp_protocol._codec import *  # noqa: F403
from fastmcp_protocol._content import *  # noqa: F403
from fastmcp_protocol._eras import *  # noqa: F403
from fastmcp_protocol._errors import *  # noqa: F403
from fastmcp_protocol._jsonrpc import *  # noqa: F403
from fastmcp_protocol._messages import *  # noqa: F403
from fastmcp_protocol._methods import *  # noqa: F403
from fastmcp_protocol._versions import *  # noqa: F403

if _typing.TYPE_CHECKING:
    __version__: str
    """The installed distribution's version: its ``pyproject.toml`` is the one source."""
else:

    def __getattr__(name: str) -> str:
        if name == "__version__":  # read when asked: importlib.metadata is slow to import
            from importlib.metadata import version

            globals()[name] = value = version("fastmcp-protocol")
            return value
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [  # noqa: PLE0604
    *_base.__all__,
    *_capabilities.__all__,
    *_content.__all__,
    *_jsonrpc.__all__,
    *_messages.__all__,
    *_errors.__all__,
    *_codec.__all__,
    *_methods.__all__,
    *_versions.__all__,
    *_eras.__all__,
    *_authorization.__all__,
]
