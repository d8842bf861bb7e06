"""The canonical manifest layout, shared by `reconciler import` (which writes it) and `reconciler fmt`
(which rewrites files into it). Output is ruamel.yaml round-trip YAML; everything here is pure (no I/O).

Layout contract:

- The yaml-language-server modeline (`MODELINE`) is the first line.
- Top-level fields in `ORDER`: `key`, `id`, `name`, `description`, `model`, `instructions` /
  `instructions_file`, `tools`, `file_ids`, `files`, `metadata`, then the sampling fields; unknown fields
  follow in their original order. `manifest_document` (import) writes a field only when it differs from the
  API default (so `name: null`, `tools: []` and a temperature of 1 are omitted), but always writes `model`.
- Block style everywhere (function parameters read as YAML), mappings indented by 2, sequences by 4 with the
  dash at offset 2, no line folding.
- Strings are plain where that is safe, quoted otherwise. Multi-line strings (and instructions over
  `SHORT_TEXT` characters) are block literals (`|`, `|-`, `|+`, with an indentation indicator when the text
  starts with a space or a line break), which load back to exactly the same text: trailing spaces, tabs,
  unicode, blank lines and a missing final newline included. Text a block literal cannot carry (a carriage
  return, other control characters, U+0085/U+2028/U+2029, a byte order mark, a line starting with a tab) is
  written double-quoted with escapes instead. Trailing spaces stay in block literals on purpose: they load
  back exactly, Markdown gives them meaning, and an editor that strips them shows up as an instructions
  change in `plan`.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Mapping
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.representer import RoundTripRepresenter
from ruamel.yaml.scalarbool import ScalarBoolean
from ruamel.yaml.scalarstring import (
    DoubleQuotedScalarString,
    FoldedScalarString,
    LiteralScalarString,
    PlainScalarString,
    ScalarString,
    SingleQuotedScalarString,
)

from reconciler.dialect import DEFAULTS, canonical_json

#: The first line of every manifest (without the leading `# `), for editors with yaml-language-server.
MODELINE = "yaml-language-server: $schema=../schema/manifest.json"
#: Matches a yaml-language-server modeline comment, whatever schema it names.
MODELINE_PATTERN = re.compile(r"^#\s*yaml-language-server\s*:")

#: Canonical order of the top-level fields of a manifest.
ORDER: tuple[str, ...] = (
    "key",
    "id",
    "name",
    "description",
    "model",
    "instructions",
    "instructions_file",
    "tools",
    "file_ids",
    "files",
    "metadata",
    "temperature",
    "top_p",
    "response_format",
)

#: Fields written by import only when they differ from the API default.
SAMPLING_FIELDS: tuple[str, ...] = ("temperature", "top_p", "response_format")

#: Single-line instructions longer than this are still written as a block literal (`|-`).
SHORT_TEXT = 80

# Scalars YAML 1.1 readers take for booleans; YAML 1.2 (ruamel) reads them as strings, but we quote them so
# every reader agrees.
_YAML11_WORDS = frozenset({"yes", "no", "on", "off"})


def _allowed_in_block(ch: str) -> bool:
    """True for the characters a block literal carries verbatim (line feed, tab, printable, no BOM)."""
    if ch in "\n\t":
        return True
    if "\x20" <= ch <= "\x7e":
        return True
    if ch in "\ufeff\u2028\u2029":  # byte order mark; line and paragraph separators
        return False
    return "\xa0" <= ch <= "\ud7ff" or "\ue000" <= ch <= "\ufffd" or "\U00010000" <= ch <= "\U0010ffff"


_TAB_AT_LINE_START = re.compile(r"^[ \t]*\t[ \t]*[^ \t\n]", re.MULTILINE)
#: Blank lines before the first line with text, one of them holding a tab: the loader reads the block's
#: indentation from them, so the tab counts as indentation too.
_TAB_BEFORE_TEXT = re.compile(r"[ \t\n]*\t")


def block_literal_ok(text: str) -> bool:
    """True when a block literal represents `text` exactly (see the module docstring); the empty string
    never is. A line starting with a tab (before its first non-blank character), or a tab in the blank lines
    before the first line with text, is also refused: YAML allows it, but the manifest loader takes such a tab
    for indentation."""
    return (
        bool(text)
        and all(_allowed_in_block(ch) for ch in text)
        and not _TAB_AT_LINE_START.search(text)
        and not _TAB_BEFORE_TEXT.match(text)
    )


def style_text(text: str) -> str:
    """A string marked with the style it is written in: a block literal when it spans lines and a block
    literal can carry it, double-quoted when it spans lines (or holds characters only escapes can carry)
    and cannot, else unmarked (the emitter picks plain, or quotes when plain would not read back)."""
    if "\n" in text or "\r" in text or "\u2028" in text or "\u2029" in text or "\x85" in text:
        return LiteralScalarString(text) if block_literal_ok(text) else DoubleQuotedScalarString(text)
    return str(text)


def style_key(key: str) -> str:
    """A mapping key marked double-quoted when it holds a line break or a character only escapes carry
    (ruamel would otherwise write it single-quoted, which does not read back), else unmarked."""
    if any(ch in "\r\n\x85\u2028\u2029" or not _allowed_in_block(ch) for ch in key):
        return DoubleQuotedScalarString(key)
    return key


def style_instructions(text: str) -> str:
    """Instructions marked with their canonical style: as `style_text`, and also a block literal when a
    single line is longer than `SHORT_TEXT` characters."""
    if len(text) > SHORT_TEXT and "\n" not in text and block_literal_ok(text):
        return LiteralScalarString(text)
    return style_text(text)


def to_node(value: Any) -> Any:
    """A JSON value as ruamel round-trip data in the canonical style: block mappings and sequences (empty
    ones stay `{}` and `[]`), strings styled by `style_text`. Key order is kept."""
    if isinstance(value, Mapping):
        node = CommentedMap()
        for k, v in value.items():
            node[style_key(str(k))] = to_node(v)
        return node
    if isinstance(value, (list, tuple)):
        seq = CommentedSeq()
        seq.extend(to_node(v) for v in value)
        return seq
    if isinstance(value, str):
        return style_text(value)
    return value


def restyle(doc: Any) -> Any:
    """Give the strings of a loaded round-trip document their canonical styles, in place: `instructions` (of
    a top-level mapping) as `style_instructions`, every other plain or quoted string value as `style_text`.
    Block scalars of the file (literal or folded) keep their style when it carries the text exactly (a
    single short line excepted, for instructions); numbers are written canonically. Keys, comments and
    order are untouched. Returns `doc`."""
    skip = None
    if isinstance(doc, CommentedMap) and isinstance(doc.get("instructions"), str):
        skip = "instructions"
        value = doc["instructions"]
        styled = style_instructions(str(value))
        folded = isinstance(value, FoldedScalarString)
        if not (_keeps_style(value) and (folded or _is_block(styled) or "\n" in value)):
            _replace(doc, "instructions", styled, top=True)
    _restyle_values(doc, skip=skip)
    return doc


def _is_block(value: Any) -> bool:
    return isinstance(value, (LiteralScalarString, FoldedScalarString))


def _replace(node: CommentedMap | CommentedSeq, index: Any, value: Any, *, top: bool = False) -> None:
    """Set `node[index]` to a restyled scalar, keeping the comment lines after it in place.

    A block scalar ends its own line, a flow scalar leaves that to the comment token after it, so a change
    between the two adjusts that token. A nested value with a comment after it is not turned into a block
    scalar (the comment could land inside it); at the top level (`top`) the comment lines are moved flush
    left, where they cannot continue the block scalar.
    """
    old = node[index]
    if type(value) is str and isinstance(old, ScalarString):
        # ruamel keeps the old style when a plain str replaces a styled one: mark the new one explicitly.
        if value.lower() in _YAML11_WORDS:
            value = SingleQuotedScalarString(value)
        else:
            value = PlainScalarString(value)
    slot = 0 if isinstance(node, CommentedSeq) else 2
    entry = node.ca.items.get(index)
    token: Any = entry[slot] if entry and len(entry) > slot else None
    text = getattr(token, "value", None)
    if not isinstance(text, str) or _is_block(old) == _is_block(value):
        node[index] = value
        return
    if _is_block(value):
        if not top:
            return
        text = text[1:] if text.startswith("\n") else text
        token.value = "\n".join(line.lstrip(" ") for line in text.split("\n"))
    elif not text.startswith("\n"):
        token.value = "\n" + text
    node[index] = value


def _keeps_style(value: str) -> bool:
    """True for a string the file already holds as a block scalar that can carry it: a literal, or a folded
    scalar (a person's choice for a long paragraph, kept)."""
    return _is_block(value) and block_literal_ok(str(value))


def _restyle_values(node: Any, skip: str | None = None) -> None:
    if isinstance(node, (CommentedMap, CommentedSeq)):
        node.fa.set_block_style()  # block style is canonical: `[type: retrieval]` becomes a list item
    if isinstance(node, CommentedMap):
        for pos, k in enumerate(list(node.keys())):
            styled_key = style_key(str(k)) if isinstance(k, str) else k
            if type(styled_key) is not type(k):
                node.insert(pos, styled_key, node.pop(k))
            if k == skip:
                continue
            _replace(node, k, _restyled(node[k]))
    elif isinstance(node, CommentedSeq):
        for i, item in enumerate(node):
            _replace(node, i, _restyled(item))


def _restyled(value: Any) -> Any:
    if isinstance(value, (CommentedMap, CommentedSeq)):
        _restyle_values(value)
        return value
    if type(value) is str:
        return style_text(value)
    if isinstance(value, str) and not block_literal_ok(str(value)) and "\n" in value:
        return style_text(str(value))
    # Numbers and booleans as the loader kept them (`0x1F`, `1_000`, `1.50`, `True`) are written canonically.
    if isinstance(value, ScalarBoolean):
        return bool(value)
    if isinstance(value, float) and type(value) is not float:
        return float(value)
    if isinstance(value, int) and not isinstance(value, bool) and type(value) is not int:
        return int(value)
    return value


def is_default(field: str, value: Any) -> bool:
    """True when `value` is what the API assumes for an omitted `field` (None always is)."""
    if value is None:
        return True
    if field not in DEFAULTS:
        return False
    return canonical_json(value) == canonical_json(DEFAULTS[field])


def manifest_document(fields: Mapping[str, Any]) -> CommentedMap:
    """The canonical document for a manifest's fields (the keys of `ORDER`, any subset), modeline first.

    Fields equal to their API default are left out (`model` is always kept); `instructions` is styled by
    `style_instructions`, every other string by `style_text`.
    """
    doc = CommentedMap()
    for name in order_keys(fields):
        value = fields[name]
        if name != "model" and is_default(name, value):
            continue
        if name == "instructions" and isinstance(value, str):
            doc[name] = style_instructions(value)
        else:
            doc[name] = to_node(value)
    doc.yaml_set_start_comment(MODELINE)
    return doc


def order_keys(keys: Iterable[str]) -> list[str]:
    """`keys` in canonical order: those in `ORDER` first, in that order, then the others as given."""
    keys = list(keys)
    known = [k for k in ORDER if k in keys]
    return known + [k for k in keys if k not in ORDER]


class _Representer(RoundTripRepresenter):
    """Round-trip representer (a subclass, so ruamel's global one stays untouched): `null` written out,
    YAML 1.1 boolean words quoted, no anchors or aliases but those of the file."""

    def ignore_aliases(self, data: Any) -> bool:
        """Only nodes that carried an anchor in the file (kept by `fmt`) are written as anchor + aliases."""
        anchor = data.yaml_anchor() if hasattr(data, "yaml_anchor") else None
        return not (anchor is not None and anchor.value)


def _represent_str(representer: RoundTripRepresenter, data: str) -> Any:
    if data.lower() in _YAML11_WORDS:
        return representer.represent_single_quoted_scalarstring(SingleQuotedScalarString(data))
    return representer.represent_str(data)


def _represent_none(representer: RoundTripRepresenter, data: None) -> Any:
    return representer.represent_scalar("tag:yaml.org,2002:null", "null")


_Representer.add_representer(str, _represent_str)
_Representer.add_representer(type(None), _represent_none)


def new_yaml() -> YAML:
    """A ruamel.yaml round-trip instance configured for the canonical layout (load and dump)."""
    yaml = YAML(typ="rt")
    yaml.width = 4096  # never fold long lines
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.preserve_quotes = False
    yaml.allow_unicode = True
    yaml.Representer = _Representer
    return yaml


def dump(doc: Any) -> str:
    """One document as canonical YAML text (ends with a newline)."""
    stream = io.StringIO()
    new_yaml().dump(doc, stream)
    return stream.getvalue()


def dump_all(docs: list[Any]) -> str:
    """Several documents, each started by `---` when there is more than one."""
    if len(docs) == 1:
        return dump(docs[0])
    stream = io.StringIO()
    yaml = new_yaml()
    yaml.explicit_start = True
    yaml.dump_all(docs, stream)
    return stream.getvalue()


def render_manifest(fields: Mapping[str, Any]) -> str:
    """The canonical YAML text of a manifest with these fields (see `manifest_document`)."""
    return dump(manifest_document(fields))


def plain(value: Any) -> Any:
    """ruamel round-trip data as plain Python (dict, list, str, int, float, bool, None) for comparisons."""
    if isinstance(value, Mapping):
        return {plain(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return value
