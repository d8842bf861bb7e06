"""The YAML 1.2 core schema as manifests read it: which tags are plain data, and a scalar's value.

Shared by both readers of a manifest (`events`, the fast path, and `composer`, which tracks positions), so
they agree on every value.
"""

from __future__ import annotations

import functools
import math
from typing import Any

from ruamel.yaml.nodes import ScalarNode
from ruamel.yaml.resolver import VersionedResolver

#: Nesting deeper than this (mappings and lists) is refused, before anything recursive reads the document.
MAX_DEPTH = 64
#: A document may expand (aliases included) to at most this many YAML nodes.
MAX_NODES = 100_000

CORE = "tag:yaml.org,2002:"
#: Scalar tags that are plain data (timestamps stay text).
SCALAR_TAGS = frozenset(CORE + t for t in ("str", "int", "float", "bool", "null", "timestamp"))


class Yaml12Resolver(VersionedResolver):
    """ruamel's resolver, pinned to YAML 1.2.

    The stock one looks the document's YAML version up on every scalar through attribute errors, which with
    the C parser costs about a third of the load time.
    """

    @property
    def processing_version(self) -> tuple[int, int]:
        return (1, 2)


_RESOLVER = Yaml12Resolver()


@functools.lru_cache(maxsize=4096)
def plain_tag(value: str) -> str:
    """The tag of a plain (unquoted, untagged) scalar, e.g. `tag:yaml.org,2002:int` for `0x1`."""
    tag = _RESOLVER.resolve(ScalarNode, value, (True, False))
    return tag if isinstance(tag, str) else str(getattr(tag, "value", tag))


def scalar_value(tag: str, value: str) -> Any:
    """The value of a scalar with a core tag; ValueError when the text can't be read as that type."""
    kind = tag[len(CORE) :]
    if kind == "null":
        return None
    if kind == "bool":
        return value.lower() == "true"
    if kind == "int":
        return _yaml_int(value)
    if kind == "float":
        return _yaml_float(value)
    return value  # str, and timestamps stay text


def _yaml_int(text: str) -> int:
    s = text.replace("_", "")
    sign = -1 if s.startswith("-") else 1
    s = s.lstrip("+-")
    for prefix, base in (("0b", 2), ("0o", 8), ("0x", 16)):
        if s.lower().startswith(prefix):
            return sign * int(s[2:], base)
    return sign * int(s, 10)


def _yaml_float(text: str) -> float:
    s = text.replace("_", "").lower()
    if s.lstrip("+-") == ".inf":
        return -math.inf if s.startswith("-") else math.inf
    if s == ".nan":
        return math.nan
    return float(s)
