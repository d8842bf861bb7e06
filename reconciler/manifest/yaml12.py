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

from reconciler.manifest.reading import MAX_MANIFEST_BYTES

#: Nesting deeper than this (mappings and lists) is refused, before anything recursive reads the document.
MAX_DEPTH = 64
#: A document may expand (aliases included) to at most this many YAML nodes.
MAX_NODES = 100_000
#: A document's aliases may repeat at most this many characters (the scalars each alias stands for, keys and
#: values): a document may not mean more than a manifest may hold.
MAX_EXPANDED_BYTES = MAX_MANIFEST_BYTES

#: An integer may have at most this many digits, as written (decimal) or once written in decimal (`0x...`):
#: Python's own bound on reading and writing one (quadratic in the digits), fixed here so a manifest reads
#: alike whatever `PYTHONINTMAXSTRDIGITS` says.
MAX_INT_DIGITS = 4_300

_DECIMAL_BOUND = 10**MAX_INT_DIGITS

CORE = "tag:yaml.org,2002:"
#: Scalar tags that are plain data (timestamps stay text).
SCALAR_TAGS = frozenset(CORE + t for t in ("str", "int", "float", "bool", "null", "timestamp"))


class TooManyDigits(ValueError):
    """An integer longer than `MAX_INT_DIGITS`; the message says how long, never the digits."""

    def __init__(self, digits: int) -> None:
        super().__init__(f"a number of {digits:,} digits (at most {MAX_INT_DIGITS:,})")


class Yaml12Resolver(VersionedResolver):
    """ruamel's resolver, pinned to YAML 1.2.

    The stock one looks the document's YAML version up on every scalar through attribute errors, which with
    the C parser costs about a third of the load time.
    """

    @property
    def processing_version(self) -> tuple[int, int]:
        return (1, 2)


_RESOLVER = Yaml12Resolver()


def too_many_nodes(aliased: bool) -> str:
    """The message for a document past `MAX_NODES`, `aliased` when an alias came before the bound."""
    if aliased:
        return f"document expands to more than {MAX_NODES:,} YAML nodes through its aliases (alias bomb?)"
    return f"too many YAML nodes: the document has more than {MAX_NODES:,}"


@functools.lru_cache(maxsize=4096)
def plain_tag(value: str) -> str:
    """The tag of a plain (unquoted, untagged) scalar, e.g. `tag:yaml.org,2002:int` for `0x1`."""
    tag = _RESOLVER.resolve(ScalarNode, value, (True, False))
    return tag if isinstance(tag, str) else str(getattr(tag, "value", tag))


def scalar_value(tag: str, value: str) -> Any:
    """The value of a scalar with a core tag; ValueError when the text can't be read as that type
    (TooManyDigits for an integer past `MAX_INT_DIGITS`)."""
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
            value = int(s[2:], base)  # linear in the digits: Python bounds only decimal reading
            if value >= _DECIMAL_BOUND:  # no decimal form: nothing could print it
                raise TooManyDigits(decimal_digits(value))
            return sign * value
    if len(s) > MAX_INT_DIGITS:
        raise TooManyDigits(len(s))
    return sign * int(s, 10)


def decimal_digits(value: int) -> int:
    """How many digits `value` has in decimal, without writing it (`str` refuses past `MAX_INT_DIGITS`)."""
    value = abs(value)
    digits = int((value.bit_length() - 1) * math.log10(2)) + 1 if value else 1
    return digits + 1 if value >= 10**digits else digits


def _yaml_float(text: str) -> float:
    s = text.replace("_", "").lower()
    if s.lstrip("+-") == ".inf":
        return -math.inf if s.startswith("-") else math.inf
    if s == ".nan":
        return math.nan
    return float(s)
