"""RFC 6570 URI templates: expanding and, for resource templates, matching.

``UriTemplate("users://{id}/posts{?limit,offset}")`` matches
``users://42/posts?limit=5`` with ``{"id": "42", "limit": "5"}``. Supported
operators: ``{var}`` (one segment: no ``/``), ``{+var}`` (reserved: may contain
``/``), ``{#var}`` (fragment), ``{.var}``, ``{/var}`` (path segments), ``{;var}``,
``{?var}`` and ``{&var}`` (query parameters, in any order), with comma lists of
variables; the ``*`` explode modifier is accepted for ``{/var*}`` and ``{+var*}``, and
``{var*}`` matches several path segments (``files://{path*}`` matches
``files://a/b.txt`` with ``path="a/b.txt"``, as PrefectHQ fastmcp means it).

Matched values are percent-decoded once. Values are meant to be names, never paths a
handler could be tricked into leaving its directory with, so a URI whose value (after
decoding) is any of these does not match:

* an absolute path: it starts with ``/`` (``tree:///etc/passwd``, ``tree://%2Fetc``)
  or a drive letter and a colon (``C:``);
* a path that climbs: a ``..`` segment (``a/../../etc``, ``%2E%2E``);
* a backslash or a NUL byte anywhere (Windows separators, C string ends);
* still percent-encoded (``%252E%252E``: decoded twice by someone, it would climb);
* a ``/`` outside ``{+var}``, ``{#var}``, ``{/var*}`` and ``{var*}``; inside them only a literal
  one: an encoded separator (``%2F``, ``%5C``) does not match.

The same holds for query variables (``{?var}``). A URI that does not match is not
found, as if no template named it. This is a guard, not a sandbox: a handler that
opens files should still resolve them inside its root (``FileResources`` does).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, unquote

import attrs

__all__ = ["UriTemplate"]

_EXPRESSION = re.compile(r"\{([+#./;?&]?)([^{}]+)\}")
_VARNAME = re.compile(r"^[A-Za-z0-9_.%]+$")
_DRIVE = re.compile(r"[A-Za-z]:")
_STILL_ENCODED = re.compile(r"%[0-9A-Fa-f]{2}")
_ENCODED_SEPARATOR = re.compile(r"%(?:2[Ff]|5[Cc])")


@attrs.frozen
class _Expression:
    operator: str
    names: tuple[str, ...]
    explode: bool


@attrs.frozen(eq=False)
class UriTemplate:
    """A parsed URI template (see the module docstring)."""

    template: str
    _pattern: re.Pattern[str] = attrs.field(init=False, repr=False)
    _expressions: tuple[_Expression, ...] = attrs.field(init=False, repr=False)
    _query: tuple[str, ...] = attrs.field(init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        regex, expressions, query = _compile(self.template)
        object.__setattr__(self, "_pattern", regex)
        object.__setattr__(self, "_expressions", expressions)
        object.__setattr__(self, "_query", query)

    @property
    def variables(self) -> tuple[str, ...]:
        """Every variable name, in order of appearance."""
        return tuple(name for e in self._expressions for name in e.names)

    def match(self, uri: str) -> dict[str, str] | None:
        """The variables of ``uri`` if it matches this template, else ``None``."""
        path, query_text = uri, ""
        if self._query:
            path, _, query_text = uri.partition("?")
        found = self._pattern.fullmatch(path)
        if found is None:
            return None
        values: dict[str, str] = {}
        for key, raw in found.groupdict().items():
            if raw is None:
                continue
            name = _group_names.get(key, key)
            if _ENCODED_SEPARATOR.search(raw):
                return None
            value = unquote(raw)
            if not _safe(value, allow_slash=key.startswith("r_")):
                return None
            values[name] = value
        if self._query:
            params = dict(parse_qsl(query_text, keep_blank_values=True))
            for name in self._query:
                if name in params:
                    if not _safe(params[name], allow_slash=True):
                        return None
                    values[name] = params[name]
        return values

    def expand(self, **values: str) -> str:
        """The URI for ``values`` (missing variables are left out, per RFC 6570)."""

        def one(m: re.Match[str]) -> str:
            operator, spec = m.group(1), m.group(2)
            names = [n.rstrip("*") for n in spec.split(",")]
            present = [(n, values[n]) for n in names if n in values]
            if not present:
                return ""
            safe = "/:@!$&'()*+,;=?#[]" if operator in "+#" else ""
            encoded = [(n, quote(str(v), safe=safe)) for n, v in present]
            if operator in ("", "+"):
                return ",".join(v for _, v in encoded)
            if operator == "#":
                return "#" + ",".join(v for _, v in encoded)
            if operator in (".", "/"):
                return "".join(operator + v for _, v in encoded)
            if operator == ";":
                return "".join(f";{n}={v}" if v else f";{n}" for n, v in encoded)
            joiner = "?" if operator == "?" else "&"
            return joiner + "&".join(f"{n}={v}" for n, v in encoded)

        return _EXPRESSION.sub(one, self.template)


_group_names: dict[str, str] = {}


def _group(name: str, reserved: bool) -> str:
    key = ("r_" if reserved else "s_") + re.sub(r"\W", "_", name)
    _group_names[key] = name
    return key


def _compile(template: str) -> tuple[re.Pattern[str], tuple[_Expression, ...], tuple[str, ...]]:
    parts: list[str] = []
    expressions: list[_Expression] = []
    query: list[str] = []
    position = 0
    for m in _EXPRESSION.finditer(template):
        parts.append(re.escape(template[position : m.start()]))
        position = m.end()
        operator, spec = m.group(1), m.group(2)
        names: list[str] = []
        explode = False
        for raw in spec.split(","):
            raw = raw.strip()
            if raw.endswith("*"):
                explode = True
                raw = raw[:-1]
            raw = raw.split(":")[0]  # prefix modifiers do not change matching
            if not _VARNAME.match(raw):
                raise ValueError(f"invalid variable {raw!r} in URI template {template!r}")
            names.append(raw)
        expressions.append(_Expression(operator, tuple(names), explode))
        if operator in ("?", "&"):
            query.extend(names)
            continue
        parts.append(_expression_regex(operator, names, explode))
    parts.append(re.escape(template[position:]))
    return re.compile("".join(parts)), tuple(expressions), tuple(query)


def _expression_regex(operator: str, names: list[str], explode: bool) -> str:
    reserved = operator in ("+", "#") or (operator in ("/", "") and explode)
    value = r"[^?#]+?" if reserved else r"[^/?#,]+?"
    if operator in ("", "+"):
        groups = [f"(?P<{_group(n, reserved)}>{value})" for n in names]
        return ",".join(groups)
    if operator == "#":
        return "#" + ",".join(f"(?P<{_group(n, True)}>{value})" for n in names)
    if operator in (".", "/"):
        sep = re.escape(operator)
        if explode and len(names) == 1:
            return f"{sep}(?P<{_group(names[0], True)}>{value})"
        return "".join(f"(?:{sep}(?P<{_group(n, False)}>{value}))?" for n in names)
    # ";": path-style parameters
    return "".join(f"(?:;{re.escape(n)}(?:=(?P<{_group(n, False)}>{value}))?)?" for n in names)


def _safe(value: str, *, allow_slash: bool) -> bool:
    """Whether a decoded value may reach a handler (see the module docstring)."""
    if "\x00" in value or "\\" in value:
        return False
    if "/" in value and (not allow_slash or value.startswith("/")):
        return False
    if _DRIVE.match(value) or _STILL_ENCODED.search(value):
        return False
    return ".." not in value.split("/")
