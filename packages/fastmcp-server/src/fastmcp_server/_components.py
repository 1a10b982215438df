"""Components as a server offers them, and the rules that decide which it offers.

A ``Component`` is one tool, resource, resource template or prompt as clients see it
(its definition) with what only the server knows: its ``tags`` and ``version``. Its
``key`` (``tool:search``, ``resource:data://config``, ``template:files://{path}``,
``prompt:review``) names it in visibility rules.

Which components a server offers is decided by its visibility rules, applied in the
order they were added, the last matching one winning (``Server.enable`` and
``Server.disable``; a session's own rules come after the server's, see
``McpContext.enable_components``), and by its version filters. Of the versions of one
component that remain, clients see the highest.

Versions compare as PEP 440 versions when they are (``"1.9" < "1.10"``, ``"1.0a1" <
"1.0"``, a leading ``v`` ignored), else as strings; a component without a version
sorts below every versioned one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Literal

import attrs

__all__ = [
    "Component",
    "ComponentKind",
    "Rule",
    "VersionFilter",
    "VersionSpec",
    "version_key",
]

ComponentKind = Literal["tool", "resource", "template", "prompt"]
KINDS: tuple[ComponentKind, ...] = ("tool", "resource", "template", "prompt")


def _tags(value: Iterable[str] | None) -> frozenset[str]:
    if not value:
        return frozenset()
    if isinstance(value, str):
        return frozenset({value})
    return frozenset(value)


@attrs.frozen(eq=False)
class Component:
    """One tool, resource, template or prompt as a server offers it.

    ``name`` is what identifies it in its kind: a tool's or prompt's name, a
    resource's URI, a template's URI template (under a mount: as the parent offers
    it). ``definition`` is what ``*/list`` shows (``fastmcp_protocol.Tool``,
    ``Resource``, ``ResourceTemplate`` or ``Prompt``). Tags and version are the
    server's own: they are not sent to clients.
    """

    kind: ComponentKind
    name: str
    definition: Any
    tags: frozenset[str] = attrs.field(default=frozenset(), converter=_tags)
    version: str | None = None

    @property
    def key(self) -> str:
        """``"<kind>:<name>"``: what ``keys=`` of a visibility rule matches."""
        return f"{self.kind}:{self.name}"

    @property
    def title(self) -> str | None:
        return getattr(self.definition, "title", None)

    @property
    def description(self) -> str | None:
        return getattr(self.definition, "description", None)

    @property
    def meta(self) -> dict[str, Any] | None:
        return getattr(self.definition, "meta", None)

    def __repr__(self) -> str:
        version = f" v{self.version}" if self.version is not None else ""
        tags = f" {sorted(self.tags)}" if self.tags else ""
        return f"<Component {self.key}{version}{tags}>"


# -- versions ------------------------------------------------------------------------------

_PEP440 = re.compile(
    r"^v?(?P<release>\d+(?:\.\d+)*)"
    r"(?:[-_.]?(?P<pre>a|b|rc|alpha|beta|c)[-_.]?(?P<pre_n>\d*))?"
    r"(?:[-_.]?post[-_.]?(?P<post>\d*))?"
    r"(?:[-_.]?dev[-_.]?(?P<dev>\d*))?$",
    re.IGNORECASE,
)
_PRE = {"a": 0, "alpha": 0, "b": 1, "beta": 1, "c": 2, "rc": 2}


def version_key(version: str | None) -> tuple[Any, ...]:
    """A sort key for versions: ``None`` lowest, then non-PEP 440 strings (compared
    as strings), then PEP 440 versions (compared as versions)."""
    if version is None:
        return (0,)
    found = _PEP440.match(version.strip())
    if found is None:
        return (1, version)
    release = [int(part) for part in found["release"].split(".")]
    while len(release) > 1 and release[-1] == 0:
        release.pop()
    # a release sorts after its pre-releases and before its post-releases; .dev first
    pre = (_PRE[found["pre"].lower()], int(found["pre_n"] or 0)) if found["pre"] else (3, 0)
    post = int(found["post"] or 0) if found["post"] is not None else -1
    dev = int(found["dev"] or 0) if found["dev"] is not None else 1 << 62
    if found["dev"] is not None and not found["pre"] and found["post"] is None:
        pre = (-1, 0)  # 1.0.dev1 < 1.0a1
    return (2, tuple(release), pre, post, dev)


@attrs.frozen
class VersionSpec:
    """A range of versions: ``gte`` (at least), ``lt`` (below), ``eq`` (exactly).

    An unversioned component is in no range."""

    gte: str | None = None
    lt: str | None = None
    eq: str | None = None

    def __contains__(self, version: object) -> bool:
        if not isinstance(version, str):
            return False
        key = version_key(version)
        if self.eq is not None and key != version_key(self.eq):
            return False
        if self.gte is not None and key < version_key(self.gte):
            return False
        return self.lt is None or key < version_key(self.lt)


@attrs.frozen
class VersionFilter:
    """Offer only the versions in ``[version_gte, version_lt)``; unversioned components
    only with ``include_unversioned=True``. Add it with ``Server.add_transform``; of
    the versions left, clients see the highest."""

    version_gte: str | None = None
    version_lt: str | None = None
    include_unversioned: bool = False

    def keeps(self, version: str | None) -> bool:
        if version is None:
            return self.include_unversioned
        return version in VersionSpec(gte=self.version_gte, lt=self.version_lt)


# -- visibility rules ------------------------------------------------------------------------


@attrs.frozen
class Rule:
    """One ``enable``/``disable`` call: what it matches and what it makes of it.

    A component matches when it is among ``components`` (every kind if not given),
    its version is in ``version`` (if given), and - unless ``match_all`` - its name,
    key or one of its tags is named (names, keys and tags add up; with none of them
    given, the kind and version decide alone). An ``only`` rule (an allowlist)
    enables what it matches and disables everything else.
    """

    enable: bool
    names: frozenset[str] = frozenset()
    keys: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()
    version: VersionSpec | None = None
    components: frozenset[ComponentKind] | None = None
    match_all: bool = False
    only: bool = False

    @classmethod
    def of(
        cls,
        enable: bool,
        *,
        names: Iterable[str] | None = None,
        keys: Iterable[str] | None = None,
        tags: Iterable[str] | None = None,
        version: VersionSpec | str | None = None,
        components: Iterable[ComponentKind] | None = None,
        match_all: bool = False,
        only: bool = False,
    ) -> Rule:
        """The rule of one ``enable``/``disable`` call; ``ValueError`` when it names
        nothing at all (say ``match_all=True`` to mean everything)."""
        kinds: frozenset[ComponentKind] | None = None
        if components is not None:
            given = _tags(components)
            if not given <= set(KINDS):
                raise ValueError(f"components must be among {KINDS}, not {sorted(given)}")
            kinds = frozenset(k for k in KINDS if k in given)
        spec = VersionSpec(eq=version) if isinstance(version, str) else version
        rule = cls(
            enable,
            _tags(names),
            _tags(keys),
            _tags(tags),
            spec,
            kinds,
            match_all,
            only,
        )
        if not (match_all or rule.names or rule.keys or rule.tags or spec or kinds):
            raise ValueError(
                "name what to match: names=, keys=, tags=, version=, components= "
                "(or match_all=True for everything)"
            )
        return rule

    @property
    def kinds(self) -> frozenset[ComponentKind]:
        """The kinds of component this rule may change."""
        return self.components if self.components is not None else frozenset(KINDS)

    def matches(self, component: Component) -> bool:
        if self.components is not None and component.kind not in self.components:
            return False
        if self.version is not None and component.version not in self.version:
            return False
        if self.match_all or not (self.names or self.keys or self.tags):
            return True
        if component.name in self.names or component.key in self.keys:
            return True
        definition_name = getattr(component.definition, "name", None)
        if definition_name is not None and definition_name in self.names:
            return True
        return not self.tags.isdisjoint(component.tags)
