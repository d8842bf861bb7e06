"""Manifests: the pydantic model of one assistant's desired state, and loading a directory of them.

A manifest is one YAML document. `load_directory` reads `*.yaml` and `*.yml` (not recursive, sorted by name)
and never raises for bad input: every problem becomes a `ManifestError` with file, line and column, so
`reconciler validate` can report all of them in one run.

Loading rules:
- YAML is parsed safely: only plain data (mappings, lists, strings, numbers, booleans, null); any tag
  other than the core ones (`!!str`, `!!int`...) is refused, nothing is ever constructed. Duplicate mapping
  keys are errors. Aliases are expanded with a bound (`MAX_NODES` per document, `MAX_DEPTH` levels), so an
  alias bomb is a clear error. Files over `MAX_MANIFEST_BYTES` are refused without being read whole.
- Scalars follow the YAML 1.2 core schema (`yes`/`no`/`on` are strings; `2024-01-01` stays a string).
- The key of a manifest is its `key:` or, for a file holding one document, the file's stem. A file holding
  several documents needs an explicit `key:` in each.
- Paths in `instructions_file` and `files` are relative to the manifest's directory and must stay inside the
  repository, both as written (`..`) and once symlinks are resolved. The repository root is the nearest
  ancestor of the manifest directory that contains `.git`; without one, the current working directory when
  the manifest directory is inside it, else the manifest directory itself.
- An `instructions_file` is read as UTF-8 with line endings normalised to `\\n` and one final newline
  removed (the newline that ends a text file's last line is not part of the instructions).
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import json
import math
import os
import re
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Annotated, Any, Literal

import jsonschema
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.reader import ReaderError
from ruamel.yaml.resolver import VersionedResolver

from reconciler import dialect

#: Manifest files larger than this are refused without being read.
MAX_MANIFEST_BYTES = 10 * 1024 * 1024
#: Nesting deeper than this (mappings and lists) is refused.
MAX_DEPTH = 64
#: A document may expand (aliases included) to at most this many YAML nodes.
MAX_NODES = 100_000
#: Metadata pairs a manifest may set: one of the API's 16 is reserved for the ownership marker.
MAX_USER_METADATA_PAIRS = dialect.MAX_METADATA_PAIRS - 1
#: `files` and `file_ids` together may name at most this many files.
MAX_FILES_TOTAL = dialect.MAX_FILE_IDS

KEY_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,62}$"
ASSISTANT_ID_PATTERN = r"^asst_[A-Za-z0-9_-]+$"
FILE_ID_PATTERN = r"^[a-z]+-[A-Za-z0-9_-]+$"
SUFFIXES = (".yaml", ".yml")

_KEY_RE = re.compile(KEY_PATTERN)
_MISSING = object()

Path_ = tuple[str | int, ...]


# --------------------------------------------------------------------------------------------------- errors


@dataclass(frozen=True)
class ManifestError:
    """One problem in one manifest (or with the directory), shown as `FILE:LINE:COL: FIELD: message`."""

    path: str
    line: int | None
    col: int | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = self.path
        if self.line is not None:
            where += f":{self.line}"
            if self.col is not None:
                where += f":{self.col}"
        parts = [where]
        if self.field:
            parts.append(self.field)
        parts.append(self.message)
        return ": ".join(parts)


# --------------------------------------------------------------------------------------------------- model


def _not_reserved(key: str) -> str:
    if dialect.is_reserved_metadata_key(key):
        raise PydanticCustomError(
            "reserved_key",
            "metadata key '{key}' is reserved: keys starting with '{prefix}' belong to the tool",
            {"key": key, "prefix": dialect.RESERVED_PREFIX},
        )
    return key


_RESERVED_NAME_SCHEMA = {
    "not": {"pattern": "^" + "".join(f"[{c.lower()}{c.upper()}]" for c in dialect.RESERVED_PREFIX)}
}

MetadataKey = Annotated[
    str,
    StringConstraints(max_length=dialect.MAX_METADATA_KEY),
    AfterValidator(_not_reserved),
    Field(json_schema_extra=_RESERVED_NAME_SCHEMA),
]
MetadataValue = Annotated[str, StringConstraints(max_length=dialect.MAX_METADATA_VALUE)]
FileId = Annotated[str, StringConstraints(pattern=FILE_ID_PATTERN, max_length=128)]
RelativePath = Annotated[str, StringConstraints(min_length=1, max_length=4096)]


class _Strict(BaseModel):
    """No unknown fields, no type coercion, immutable."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class CodeInterpreterTool(_Strict):
    """`{type: code_interpreter}`: lets the assistant run Python."""

    type: Literal["code_interpreter"]


class RetrievalTool(_Strict):
    """`{type: retrieval}`: lets the assistant search its files."""

    type: Literal["retrieval"]


class FunctionDefinition(_Strict):
    """A function the assistant may call; `parameters` is a JSON Schema of its arguments."""

    name: str = Field(
        pattern=dialect.FUNCTION_NAME_PATTERN,
        description="The function's name: 1-64 letters, digits, '_' or '-'.",
    )
    description: str | None = Field(
        default=None, description="What the function does; the model uses it to decide when to call it."
    )
    parameters: dict[str, Any] | None = Field(
        default=None, description="The function's arguments as a JSON Schema object."
    )

    @field_validator("parameters")
    @classmethod
    def _valid_json_schema(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is None:
            return value
        problem = _schema_problem(json.dumps(value, sort_keys=True, default=str))
        if problem is not None:
            reason, subpath = problem
            raise PydanticCustomError(
                "json_schema", "not a valid JSON Schema: {reason}", {"reason": reason, "subpath": subpath}
            )
        return value


@functools.lru_cache(maxsize=1024)
def _schema_problem(schema_json: str) -> tuple[str, tuple[str | int, ...]] | None:
    """The most relevant metaschema violation of a JSON Schema (given as JSON text), or None when valid.

    The draft is the schema's `$schema`, else draft 7 (what function-calling documentation uses, and far
    quicker to check than 2020-12). Cached: the same function definitions recur across assistants.
    """
    schema = json.loads(schema_json)
    validator = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
    error = jsonschema.exceptions.best_match(validator(validator.META_SCHEMA).iter_errors(schema))
    return None if error is None else (error.message, tuple(error.absolute_path))


class FunctionTool(_Strict):
    """`{type: function, function: {...}}`: a function the assistant may call."""

    type: Literal["function"]
    function: FunctionDefinition


Tool = Annotated[CodeInterpreterTool | RetrievalTool | FunctionTool, Field(discriminator="type")]


class ResponseFormatObject(_Strict):
    """`{type: text}` or `{type: json_object}` (JSON mode)."""

    type: Literal["text", "json_object"]


ResponseFormat = Literal["auto", "none"] | ResponseFormatObject


class Manifest(_Strict):
    """One assistant's desired state. Omitted fields converge to the API defaults."""

    model_config = ConfigDict(
        title="reconciler manifest",
        json_schema_extra={
            "description": "One OpenAI assistant (Assistants API v1), as managed by reconciler.",
        },
    )

    key: str | None = Field(
        default=None,
        pattern=KEY_PATTERN,
        description="Stable logical name of the assistant (defaults to the file's stem). "
        "Lowercase letters, digits, '-', '_' and '.', at most 63 characters; unique across the directory.",
    )
    id: str | None = Field(
        default=None,
        pattern=ASSISTANT_ID_PATTERN,
        description="Adopt this existing assistant (asst_...) instead of creating one.",
    )
    name: str | None = Field(default=None, max_length=dialect.MAX_NAME, description="Display name.")
    description: str | None = Field(
        default=None, max_length=dialect.MAX_DESCRIPTION, description="What the assistant is for."
    )
    model: str = Field(
        min_length=1,
        description="Model ID, e.g. gpt-4-turbo.",
        json_schema_extra={"examples": list(dialect.MODELS)},
    )
    instructions: str | None = Field(
        default=None,
        max_length=dialect.MAX_INSTRUCTIONS,
        description="System instructions. Mutually exclusive with instructions_file.",
    )
    instructions_file: RelativePath | None = Field(
        default=None,
        description="Read the instructions from this UTF-8 file (relative to the manifest, inside the "
        "repository). Mutually exclusive with instructions.",
    )
    tools: list[Tool] = Field(
        default=[],
        max_length=dialect.MAX_TOOLS,
        description="Tools: code_interpreter, retrieval, or function.",
    )
    file_ids: list[FileId] = Field(
        default=[],
        max_length=dialect.MAX_FILE_IDS,
        description="IDs of uploaded files (file-...) attached to the assistant; unique. "
        f"Together with files at most {MAX_FILES_TOTAL}.",
    )
    files: list[RelativePath] = Field(
        default=[],
        max_length=MAX_FILES_TOTAL,
        description="Knowledge files to upload and attach (paths relative to the manifest, inside the "
        f"repository, each at most {dialect.MAX_FILE_BYTES // 2**20} MB). "
        f"Together with file_ids at most {MAX_FILES_TOTAL}.",
    )
    metadata: dict[MetadataKey, MetadataValue] = Field(
        default={},
        max_length=MAX_USER_METADATA_PAIRS,
        description=f"String key-value pairs (at most {MAX_USER_METADATA_PAIRS}: the API allows "
        f"{dialect.MAX_METADATA_PAIRS} and one holds the ownership marker). Keys starting with "
        f"'{dialect.RESERVED_PREFIX}' are reserved.",
    )
    temperature: float = Field(
        default=1.0,
        ge=dialect.TEMPERATURE_RANGE[0],
        le=dialect.TEMPERATURE_RANGE[1],
        allow_inf_nan=False,
        description="Sampling temperature, 0 to 2.",
    )
    top_p: float = Field(
        default=1.0,
        ge=dialect.TOP_P_RANGE[0],
        le=dialect.TOP_P_RANGE[1],
        allow_inf_nan=False,
        description="Nucleus sampling probability mass, 0 to 1.",
    )
    response_format: ResponseFormat = Field(
        default="auto",
        description="auto, none, {type: text} or {type: json_object}.",
    )

    @field_validator("response_format", mode="wrap")
    @classmethod
    def _response_format(cls, value: Any, handler: Any) -> Any:
        expected = "'auto', 'none', {type: text} or {type: json_object}"
        if isinstance(value, dict):
            try:
                return ResponseFormatObject.model_validate(value)
            except ValidationError as err:
                first = err.errors()[0]
                where = tuple(first["loc"])
                if first["type"] == "extra_forbidden":
                    message = f"unknown field '{where[0]}' (expected only type: text or json_object)"
                elif first["type"] == "missing":
                    message = "a response format needs type: text or json_object"
                else:
                    message = f"expected type text or json_object, got {first.get('input')!r}"
                raise PydanticCustomError("response_format", message, {"subpath": where}) from None
        if isinstance(value, str) and value in dialect.RESPONSE_FORMAT_STRINGS:
            return value
        got = f"'{value}'" if isinstance(value, str) else _describe(value)
        raise PydanticCustomError("response_format", f"expected {expected}, got {got}")

    @field_validator("file_ids")
    @classmethod
    def _unique_file_ids(cls, value: list[str]) -> list[str]:
        _refuse_duplicates(value, "file id")
        return value

    @field_validator("files")
    @classmethod
    def _unique_files(cls, value: list[str]) -> list[str]:
        _refuse_duplicates(value, "file")
        return value

    @field_validator("tools")
    @classmethod
    def _unique_function_names(cls, value: list[Any]) -> list[Any]:
        seen: dict[str, int] = {}
        for index, tool in enumerate(value):
            if isinstance(tool, FunctionTool):
                name = tool.function.name
                if name in seen:
                    raise PydanticCustomError(
                        "duplicate",
                        "duplicate function name '{name}' (also tools[{first}])",
                        {"name": name, "first": seen[name], "subpath": (index, "function", "name")},
                    )
                seen[name] = index
        return value

    @model_validator(mode="after")
    def _cross_field(self) -> Manifest:
        if self.instructions is not None and self.instructions_file is not None:
            raise PydanticCustomError(
                "exclusive",
                "set either instructions or instructions_file, not both",
                {"subpath": ("instructions_file",)},
            )
        total = len(self.files) + len(self.file_ids)
        if total > MAX_FILES_TOTAL:
            raise PydanticCustomError(
                "too_many_files",
                "files and file_ids name {total} files together; at most {limit}",
                {"total": total, "limit": MAX_FILES_TOTAL, "subpath": ("files",)},
            )
        return self


def _refuse_duplicates(values: list[str], what: str) -> None:
    seen: dict[str, int] = {}
    for index, value in enumerate(values):
        if value in seen:
            raise PydanticCustomError(
                "duplicate",
                "duplicate {what} '{value}' (also [{first}])",
                {"what": what, "value": value, "first": seen[value], "subpath": (index,)},
            )
        seen[value] = index


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of one manifest document, for editors and `reconciler schema`."""
    schema = Manifest.model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **schema,
    }


# --------------------------------------------------------------------------------------------------- loaded


@dataclass(frozen=True)
class LocalFile:
    """A knowledge file named by `files:` (checked to exist, be regular, readable and small enough)."""

    path: Path
    display: str
    size: int
    _digest: list[str] = field(default_factory=list, init=False, repr=False, compare=False)

    def sha256(self) -> str:
        """Hex SHA-256 of the content, streamed in chunks on first call and cached."""
        if not self._digest:
            digest = hashlib.sha256()
            with self.path.open("rb") as handle:
                for chunk in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(chunk)
            self._digest.append(digest.hexdigest())
        return self._digest[0]


@dataclass(frozen=True)
class LoadedManifest:
    """A valid manifest with where it came from.

    `instructions_text` holds the content of `instructions_file` as read at load time (None otherwise);
    `positions` maps field paths to 1-based (line, col) for later messages.
    """

    key: str
    path: Path
    line: int
    manifest: Manifest
    files: tuple[LocalFile, ...] = ()
    instructions_text: str | None = field(default=None, repr=False, compare=False)
    positions: Mapping[Path_, tuple[int, int]] = field(default_factory=dict, repr=False, compare=False)

    def api_fields(self) -> dict[str, Any]:
        """The `dialect.FIELDS` the manifest sets, as API values; omitted fields are absent.

        `instructions` comes from `instructions_file` when that is set; `files` is not included (uploads
        turn them into file ids later); `file_ids` only as written.
        """
        m = self.manifest
        out: dict[str, Any] = {}
        for name in dialect.FIELDS:
            if name == "instructions" and m.instructions_file is not None:
                out[name] = self._instructions()
            elif name in m.model_fields_set:
                out[name] = _api_value(getattr(m, name))
        return out

    def _instructions(self) -> str:
        if self.instructions_text is not None:
            return self.instructions_text
        assert self.manifest.instructions_file is not None
        return _read_instructions(self.path.parent / self.manifest.instructions_file)

    def position(self, field_path: str) -> tuple[int, int]:
        """1-based (line, col) of a field such as `tools[1].function.name`: its nearest written ancestor,
        else the document start."""
        parts = _parse_field_path(field_path)
        while parts:
            if parts in self.positions:
                return self.positions[parts]
            parts = parts[:-1]
        return (self.line, 1)


def _api_value(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return {
            k: _api_value(getattr(value, k)) for k in value.model_fields_set if getattr(value, k) is not None
        }
    if isinstance(value, list):
        return [_api_value(v) for v in value]
    if isinstance(value, dict):
        return dict(value)
    return value


def _parse_field_path(text: str) -> Path_:
    parts: list[str | int] = []
    for token in re.finditer(r"\[(\d+)\]|\[\"((?:[^\"\\]|\\.)*)\"\]|([^.\[\]]+)", text):
        index, quoted, plain = token.groups()
        if index is not None:
            parts.append(int(index))
        elif quoted is not None:
            parts.append(json.loads(f'"{quoted}"'))
        else:
            parts.append(plain)
    return tuple(parts)


def format_field_path(path: Path_) -> str:
    """`("tools", 1, "function", "name")` → `tools[1].function.name`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z0-9_-]+", part):
            out += f".{part}" if out else part
        else:
            out += f"[{json.dumps(part, ensure_ascii=False)}]"
    return out


@dataclass
class LoadResult:
    """Every valid manifest of a directory, and every problem found."""

    manifests: list[LoadedManifest]
    errors: list[ManifestError]


# --------------------------------------------------------------------------------------------------- YAML


class _DocumentError(Exception):
    """A problem that stops the conversion of one document (alias bomb, nesting)."""

    def __init__(self, node: Node, message: str) -> None:
        super().__init__(message)
        self.node = node


_CORE = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_CORE + t for t in ("str", "int", "float", "bool", "null", "timestamp")}


def _mark(node: Node) -> tuple[int, int]:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


class _Converter:
    """Turns a composed YAML node tree into plain data, recording positions and problems."""

    def __init__(self) -> None:
        self.values: dict[Path_, tuple[int, int]] = {}
        self.keys: dict[Path_, tuple[int, int]] = {}
        self.problems: list[tuple[tuple[int, int], Path_, str]] = []
        self.count = 0

    def convert(self, node: Node, path: Path_ = (), depth: int = 0) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise _DocumentError(
                node, f"document expands to more than {MAX_NODES:,} YAML nodes (alias bomb?)"
            )
        if depth > MAX_DEPTH:
            raise _DocumentError(node, f"nesting deeper than {MAX_DEPTH} levels")
        self.values.setdefault(path, _mark(node))
        tag = node.tag if isinstance(node.tag, str) else str(getattr(node.tag, "value", node.tag))
        if isinstance(node, ScalarNode):
            if tag not in _SCALAR_TAGS:
                self._tag_problem(node, tag, path)
                return node.value
            return self._scalar(node, tag, path)
        if isinstance(node, SequenceNode):
            if tag != _CORE + "seq":
                self._tag_problem(node, tag, path)
            return [self.convert(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        if isinstance(node, MappingNode):
            if tag != _CORE + "map":
                self._tag_problem(node, tag, path)
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
                self.count += 1
                key = self.convert(key_node, (*path, "<key>"), depth + 1)
                self.values.pop((*path, "<key>"), None)
                if not isinstance(key, str):
                    if isinstance(key_node, ScalarNode) and key_node.value == "<<" and key_node.style is None:
                        message = "merge keys (<<) are not supported; repeat the fields instead"
                    else:
                        message = f"mapping keys must be strings, got {_describe(key)} (quote it)"
                    self.problems.append((_mark(key_node), path, message))
                    continue
                child: Path_ = (*path, key)
                if key in out:
                    first = self.keys[child]
                    message = f"duplicate key (first defined on line {first[0]})"
                    self.problems.append((_mark(key_node), child, message))
                    continue
                self.keys[child] = _mark(key_node)
                out[key] = self.convert(value_node, child, depth + 1)
            return out
        raise _DocumentError(node, f"unsupported YAML node {type(node).__name__}")  # pragma: no cover

    def _tag_problem(self, node: Node, tag: str, path: Path_) -> None:
        shown = "!!" + tag[len(_CORE) :] if tag.startswith(_CORE) else tag
        self.problems.append(
            (_mark(node), path, f"YAML tag '{shown}' is not allowed (manifests are plain data)")
        )

    def _scalar(self, node: ScalarNode, tag: str, path: Path_) -> Any:
        value: str = node.value
        kind = tag[len(_CORE) :]
        try:
            if kind == "null":
                return None
            if kind == "bool":
                return value.lower() == "true"
            if kind == "int":
                return _yaml_int(value)
            if kind == "float":
                return _yaml_float(value)
        except ValueError:
            self.problems.append((_mark(node), path, f"cannot read '{value}' as {kind}"))
            return value
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


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean (true)" if value else "a boolean (false)"
    if isinstance(value, (int, float)):
        return f"a number ({value})"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


class _Yaml12Resolver(VersionedResolver):
    """ruamel's resolver, pinned to YAML 1.2.

    The stock one looks the document's YAML version up on every scalar through attribute errors, which with
    the C parser costs about a third of the load time.
    """

    @property
    def processing_version(self) -> tuple[int, int]:
        return (1, 2)


_yaml = YAML(typ="safe")
_yaml.Resolver = _Yaml12Resolver


def _compose(text: str) -> Iterator[Node | None]:
    """Yield the root node of each document (None for an empty one)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a reused anchor is legal YAML 1.2; ruamel only warns
        yield from _yaml.compose_all(text)


# --------------------------------------------------------------------------------------------------- loading


def _tab_indentation(text: str) -> tuple[int, int] | None:
    """Line and column of the first tab in a line's indentation, if any (tabs inside block scalars
    are legal, so this only explains a parse error, it is not a check of its own)."""
    if "\t" not in text:
        return None
    for number, line in enumerate(text.split("\n"), 1):
        indent = len(line) - len(line.lstrip(" \t"))
        if "\t" in line[:indent] and line.strip():
            return number, line.index("\t") + 1
    return None


class _FileLoader:
    """Loads one manifest file into LoadedManifests and errors."""

    def __init__(self, path: Path, display: str, root: Path) -> None:
        self.path = path
        self.display = display
        self.root = root
        self.errors: list[ManifestError] = []
        self.loaded: list[tuple[LoadedManifest, tuple[int, int] | None]] = []

    def error(self, message: str, pos: tuple[int, int] | None = None, fld: Path_ | str | None = None) -> None:
        """Record an error; one without a better position points at the file's start (1:1), so every
        line is FILE:LINE:COL and editors and CI annotations can place it."""
        name = format_field_path(fld) if isinstance(fld, tuple) else fld
        line, col = pos or (1, 1)
        self.errors.append(ManifestError(self.display, line, col, name or None, message))

    def load(self) -> None:
        text = self._read()
        if text is None:
            return
        if text.strip() == "":
            self.error("empty file: expected a manifest (at least 'model:')")
            return
        documents: list[Node | None] = []
        try:
            documents.extend(_compose(text))
        except MarkedYAMLError as err:
            tab = _tab_indentation(text)
            if tab is not None:
                # libyaml's message for this ("found character that cannot start any token") misleads.
                self.error("tab used for indentation (YAML needs spaces)", tab)
                return
            mark = err.problem_mark or err.context_mark
            problem = err.problem or err.context or "malformed YAML"
            pos = (mark.line + 1, mark.column + 1) if mark is not None else None
            self.error(f"invalid YAML: {problem}", pos)
        except ReaderError as err:
            pos = _offset_position(text, err.position)
            self.error(f"invalid YAML: unacceptable character #x{err.character:04x}", pos)
        except RecursionError:
            self.error(f"invalid YAML: nesting too deep (at most {MAX_DEPTH} levels)")
        except YAMLError as err:
            self.error(f"invalid YAML: {err}")
        if not documents:
            if not self.errors:
                self.error("empty file: no YAML document, expected a manifest (at least 'model:')")
            return
        several = len(documents) > 1
        for number, root in enumerate(documents, 1):
            self._document(root, number, several)

    def _read(self) -> str | None:
        try:
            size = self.path.stat().st_size
            if size > MAX_MANIFEST_BYTES:
                limit = MAX_MANIFEST_BYTES // 2**20
                self.error(f"file too large ({size:,} bytes; a manifest may have at most {limit} MB)")
                return None
            with self.path.open("rb") as handle:
                data = handle.read(MAX_MANIFEST_BYTES + 1)
        except PermissionError:
            self.error("cannot read file: permission denied")
            return None
        except OSError as err:
            self.error(f"cannot read file: {err.strerror or err}")
            return None
        if len(data) > MAX_MANIFEST_BYTES:
            self.error(f"file too large (over {MAX_MANIFEST_BYTES:,} bytes)")
            return None
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            self.error("file is UTF-16; manifests must be UTF-8")
            return None
        if b"\x00" in data:
            nul = data.index(b"\x00")
            pos = (data.count(b"\n", 0, nul) + 1, nul - (data.rfind(b"\n", 0, nul) + 1) + 1)
            self.error("binary file (contains NUL bytes), not a YAML manifest", pos)
            return None
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as err:
            line = data.count(b"\n", 0, err.start) + 1
            col = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
            self.error(f"invalid UTF-8 (byte 0x{data[err.start]:02x}); manifests must be UTF-8", (line, col))
            return None

    def _document(self, root: Node | None, number: int, several: bool) -> None:
        label = f"document {number}: " if several else ""
        if root is None or (
            isinstance(root, ScalarNode) and root.tag == _CORE + "null" and root.value in ("", "~")
        ):
            pos = _mark(root) if root is not None else None
            self.error(f"{label}empty document, expected a manifest (at least 'model:')", pos)
            return
        start = _mark(root)
        converter = _Converter()
        try:
            data = converter.convert(root)
        except _DocumentError as err:
            self.error(str(err), _mark(err.node))
            return
        for pos, path, message in converter.problems:
            self.error(message, pos, path)
        if not isinstance(data, dict):
            self.error(f"{label}a manifest must be a mapping of fields, got {_describe(data)}", start)
            return
        before = len(self.errors)
        manifest: Manifest | None = None
        try:
            manifest = Manifest.model_validate(data)
        except ValidationError as err:
            for item in err.errors():
                self._pydantic_error(item, data, converter, start)
        key = self._key(data, several, start)
        instructions_text = self._instructions_file(data, converter)
        files = self._files(data, converter)
        if manifest is None or key is None or len(self.errors) > before or converter.problems:
            return
        positions = {**converter.values, **converter.keys}
        loaded = LoadedManifest(
            key=key,
            path=Path(self.display),
            line=start[0],
            manifest=manifest,
            files=tuple(files),
            instructions_text=instructions_text,
            positions=positions,
        )
        key_pos = converter.keys.get(("key",))
        self.loaded.append((loaded, key_pos))

    def _key(self, data: dict[str, Any], several: bool, start: tuple[int, int]) -> str | None:
        key = data.get("key")
        if isinstance(key, str):
            return key if _KEY_RE.match(key) else None  # a bad key is reported by the model
        if key is not None:
            return None
        if several:
            self.error("required when a file holds several documents", start, "key")
            return None
        stem = self.path.stem
        if not _KEY_RE.match(stem):
            self.error(
                f"file name '{stem}' is not a valid key (lowercase letters, digits, '-', '_', '.', at most "
                "63 characters); rename the file or set key:",
                start,
            )
            return None
        return stem

    def _instructions_file(self, data: dict[str, Any], conv: _Converter) -> str | None:
        rel = data.get("instructions_file")
        if not isinstance(rel, str) or not rel:
            return None
        pos = conv.values.get(("instructions_file",))
        target = self._inside(rel, pos, ("instructions_file",))
        if target is None:
            return None
        try:
            size = target.stat().st_size
            if size > 4 * dialect.MAX_INSTRUCTIONS + 2:
                self.error(
                    f"'{rel}' is too large ({size:,} bytes; instructions may have at most "
                    f"{dialect.MAX_INSTRUCTIONS:,} characters)",
                    pos,
                    ("instructions_file",),
                )
                return None
            text = _read_instructions(target)
        except UnicodeDecodeError:
            self.error(f"'{rel}' is not valid UTF-8", pos, ("instructions_file",))
            return None
        except OSError as err:
            self.error(f"cannot read '{rel}': {err.strerror or err}", pos, ("instructions_file",))
            return None
        if len(text) > dialect.MAX_INSTRUCTIONS:
            self.error(
                f"'{rel}' has {len(text):,} characters; instructions may have at most "
                f"{dialect.MAX_INSTRUCTIONS:,}",
                pos,
                ("instructions_file",),
            )
            return None
        return text

    def _files(self, data: dict[str, Any], conv: _Converter) -> list[LocalFile]:
        names = data.get("files")
        if not isinstance(names, list):
            return []
        out: list[LocalFile] = []
        for index, rel in enumerate(names):
            if not isinstance(rel, str) or not rel:
                continue
            where: Path_ = ("files", index)
            pos = conv.values.get(where)
            target = self._inside(rel, pos, where)
            if target is None:
                continue
            try:
                size = target.stat().st_size
                with target.open("rb"):
                    pass
            except PermissionError:
                self.error(f"cannot read '{rel}': permission denied", pos, where)
                continue
            except OSError as err:
                self.error(f"cannot read '{rel}': {err.strerror or err}", pos, where)
                continue
            if size > dialect.MAX_FILE_BYTES:
                limit = dialect.MAX_FILE_BYTES // 2**20
                self.error(f"'{rel}' is too large ({size:,} bytes; at most {limit} MB)", pos, where)
                continue
            if size == 0:
                self.error(f"'{rel}' is empty", pos, where)
                continue
            out.append(LocalFile(path=target, display=rel, size=size))
        return out

    def _inside(self, rel: str, pos: tuple[int, int] | None, where: Path_) -> Path | None:
        """The resolved path of `rel` (relative to the manifest) if it stays inside the repository and is a
        regular file; otherwise report why and return None."""
        if PurePath(rel).is_absolute() or re.match(r"^[A-Za-z]:[\\/]", rel):
            self.error(f"'{rel}' must be relative to the manifest, not absolute", pos, where)
            return None
        base = self.path.parent.absolute()
        written = Path(os.path.normpath(base / rel))
        if not _is_within(written, self.root) and not _is_within(written.resolve(), self.root):
            self.error(f"'{rel}' is outside the repository ({self.root})", pos, where)
            return None
        resolved = (base / rel).resolve()
        if not _is_within(resolved, self.root):
            self.error(
                f"'{rel}' resolves outside the repository through a symlink (to {resolved})", pos, where
            )
            return None
        if not resolved.exists():
            self.error(f"'{rel}' not found", pos, where)
            return None
        if not resolved.is_file():
            self.error(f"'{rel}' is not a regular file", pos, where)
            return None
        return resolved

    def _pydantic_error(
        self, item: Mapping[str, Any], data: dict[str, Any], conv: _Converter, start: tuple[int, int]
    ) -> None:
        ctx = item.get("ctx") or {}
        path, is_key = _data_path(item["loc"], data)
        subpath = ctx.get("subpath")
        if isinstance(subpath, tuple):
            path = (*path, *subpath)
        kind = item["type"]
        value = item.get("input", _MISSING)
        message = _message(kind, item["msg"], ctx, path, value, data)
        if kind == "missing":
            pos = conv.keys.get(path[:-1]) or conv.values.get(path[:-1]) or start
            if not path[:-1]:
                pos = start
        elif is_key or kind == "extra_forbidden":
            pos = conv.keys.get(path) or conv.values.get(path) or start
        else:
            pos = _best_position(conv, path, start)
        self.error(message, pos, path)


def _best_position(conv: _Converter, path: Path_, start: tuple[int, int]) -> tuple[int, int]:
    """The value's position for scalars; the key's when the value is a collection; else nearest ancestor."""
    probe = path
    while probe:
        key_pos = conv.keys.get(probe)
        value_pos = conv.values.get(probe)
        if value_pos is not None and key_pos is not None and value_pos[0] != key_pos[0]:
            return key_pos
        if value_pos is not None:
            return value_pos
        if key_pos is not None:
            return key_pos
        probe = probe[:-1]
    return start


def _data_path(loc: tuple[Any, ...], data: Any) -> tuple[Path_, bool]:
    """Map a pydantic `loc` onto the data: union tags and model names are dropped; `[key]` marks a key."""
    path: list[str | int] = []
    current = data
    is_key = False
    for part in loc:
        if part == "[key]":
            is_key = True
            break
        if (isinstance(current, dict) and part in current) or (
            isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current)
        ):
            path.append(part)
            current = current[part]
        elif isinstance(current, dict) and isinstance(part, str) and part not in dialect.TOOL_TYPES:
            path.append(part)  # a missing field
            current = None
        # else: a union tag / model name: not part of the data
    return tuple(path), is_key


_FIELD_MESSAGES = {
    "key": "must be lowercase letters, digits, '-', '_' or '.', starting with a letter or digit, "
    "at most 63 characters",
    "id": "must be an assistant id like asst_abc123",
    "name": "must be 1-64 letters, digits, '_' or '-'",
}


_RANGES = {"temperature": dialect.TEMPERATURE_RANGE, "top_p": dialect.TOP_P_RANGE}


def _message(kind: str, default: str, ctx: Mapping[str, Any], path: Path_, value: Any, data: Any) -> str:
    """A human message for one pydantic error."""
    last = path[-1] if path else None
    got = _describe(value) if value is not _MISSING else "nothing"
    if kind == "string_pattern_mismatch":
        if path[:1] == ("file_ids",):
            return f"'{value}' does not look like a file id (e.g. file-abc123)"
        if isinstance(last, str) and last in _FIELD_MESSAGES:
            return f"'{value}' {_FIELD_MESSAGES[last]}"
    if kind == "extra_forbidden" and isinstance(last, str):
        choices = _field_names(path[:-1], data)
        close = difflib.get_close_matches(last, choices, n=1, cutoff=0.6)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        return f"unknown field '{last}'{hint}"
    if kind == "missing":
        return f"required field '{last}' is missing" if isinstance(last, str) else "required field is missing"
    if kind == "union_tag_invalid":
        expected = _or_list(dialect.TOOL_TYPES)
        return f"unknown tool type '{ctx.get('tag')}' (expected {expected})"
    if kind == "union_tag_not_found":
        return f"a tool needs a type ({_or_list(dialect.TOOL_TYPES)})"
    if kind in ("model_attributes_type", "model_type", "dict_type"):
        if path[:1] == ("tools",) and len(path) == 2:
            return f"expected a tool like {{type: retrieval}}, got {got}"
        return f"expected a mapping, got {got}"
    if path[:1] == ("response_format",) and kind in ("literal_error", "union_tag_invalid"):
        if len(path) == 1:
            return "expected 'auto', 'none', {type: text} or {type: json_object}, got " + (
                f"'{value}'" if isinstance(value, str) else got
            )
        return f"expected 'text' or 'json_object', got {value!r}" if isinstance(value, str) else f"got {got}"
    if kind in ("greater_than_equal", "less_than_equal") and last in _RANGES:
        low, high = _RANGES[last]
        return f"must be between {low:g} and {high:g}, got {value}"
    if kind == "string_type":
        hint = " (quote it)" if isinstance(value, (int, float, bool)) else ""
        return f"expected a string, got {got}{hint}"
    if kind in ("float_type", "float_parsing"):
        return f"expected a number, got {got}"
    if kind == "finite_number":
        return "expected a finite number"
    if kind == "list_type":
        return f"expected a list, got {got}"
    if kind == "literal_error" and last == "type":
        return f"expected type {ctx.get('expected')}, got {value!r}"
    if kind == "too_long" and path == ("metadata",):
        return (
            f"at most {MAX_USER_METADATA_PAIRS} pairs (the API allows {dialect.MAX_METADATA_PAIRS}; one is "
            f"reserved for the ownership marker '{dialect.MARKER_KEY}'), got {_length(value, ctx)}"
        )
    if kind == "too_long":
        return f"at most {ctx.get('max_length')} items, got {_length(value, ctx)}"
    if kind == "string_too_long" and isinstance(value, str):
        return f"at most {ctx.get('max_length'):,} characters, got {len(value):,}"
    if kind == "string_too_short":
        return "must not be empty"
    return default


def _length(value: Any, ctx: Mapping[str, Any]) -> Any:
    return len(value) if isinstance(value, (list, dict)) else ctx.get("actual_length")


def _or_list(items: tuple[str, ...]) -> str:
    return ", ".join(items[:-1]) + " or " + items[-1]


def _field_names(path: Path_, data: Any) -> list[str]:
    """The field names allowed at `path` (for did-you-mean)."""
    model: Any = None
    if path == ():
        model = Manifest
    elif path == ("response_format",):
        model = ResponseFormatObject
    elif len(path) == 2 and path[0] == "tools":
        model = FunctionTool
        try:
            kind = data["tools"][path[1]].get("type")
            model = {"code_interpreter": CodeInterpreterTool, "retrieval": RetrievalTool}.get(kind, model)
        except (AttributeError, IndexError, KeyError, TypeError):
            pass
    elif len(path) == 3 and path[0] == "tools" and path[2] == "function":
        model = FunctionDefinition
    return list(model.model_fields) if model else []


def _offset_position(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return (line, offset - (text.rfind("\n", 0, offset) + 1) + 1)


def _read_instructions(path: Path) -> str:
    """The instructions in a file: UTF-8, `\\r\\n` → `\\n`, one final newline removed."""
    text = path.read_bytes().decode("utf-8-sig").replace("\r\n", "\n")
    return text[:-1] if text.endswith("\n") else text


def _is_within(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return True


def repository_root(directory: Path) -> Path:
    """The nearest ancestor of `directory` holding `.git`; else the cwd if `directory` is inside it; else
    `directory` itself (all resolved)."""
    start = directory.resolve()
    for candidate in (start, *start.parents):
        if (candidate / ".git").exists():
            return candidate
    cwd = Path.cwd().resolve()
    return cwd if _is_within(start, cwd) else start


def _display(path: Path) -> str:
    """`path` relative to the cwd when it is under it, else as given."""
    try:
        return str(path.absolute().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def load_directory(directory: Path) -> LoadResult:
    """Load and validate every manifest in `directory`. Never raises for bad input: each problem is a
    ManifestError (sorted by file, then line). Only manifests without any error are returned."""
    result = LoadResult(manifests=[], errors=[])
    shown = _display(directory)
    try:
        if not directory.exists():
            result.errors.append(ManifestError(shown, None, None, None, "directory not found"))
            return result
        if not directory.is_dir():
            result.errors.append(ManifestError(shown, None, None, None, "not a directory"))
            return result
        entries = sorted(p for p in directory.iterdir() if p.suffix in SUFFIXES)
    except OSError as err:
        result.errors.append(ManifestError(shown, None, None, None, f"cannot read directory: {err.strerror}"))
        return result
    if not entries:
        message = "no manifests found (expected *.yaml or *.yml files)"
        result.errors.append(ManifestError(shown, None, None, None, message))
        return result
    root = repository_root(directory)
    seen_keys: dict[str, LoadedManifest] = {}
    seen_ids: dict[str, LoadedManifest] = {}
    for entry in entries:
        loader = _FileLoader(entry, _display(entry), root)
        if entry.is_dir():
            loader.error("is a directory, not a manifest file")
        else:
            loader.load()
        for loaded, key_pos in loader.loaded:
            pos = key_pos or (loaded.line, 1)
            first = seen_keys.get(loaded.key)
            if first is not None:
                loader.error(
                    f"duplicate key '{loaded.key}': also defined in {first.path}:{first.line}",
                    pos,
                    "key" if key_pos else None,
                )
                continue
            seen_keys[loaded.key] = loaded
            asst = loaded.manifest.id
            if asst is not None:
                other = seen_ids.get(asst)
                if other is not None:
                    loader.error(
                        f"id '{asst}' is also adopted by '{other.key}' ({other.path}:{other.line})",
                        loaded.positions.get(("id",), pos),
                        "id",
                    )
                    continue
                seen_ids[asst] = loaded
            result.manifests.append(loaded)
        loader.errors.sort(key=lambda e: (e.line or 0, e.col or 0))
        result.errors.extend(loader.errors)
    return result


# --------------------------------------------------------------------------------------------------- docs


def reference_table() -> str:
    """The Markdown table of every manifest field (type, limit, default, description), derived from the
    model's JSON Schema; `docs/manifest.md` holds a copy kept true by a test."""
    schema = json_schema()
    defs = schema.get("$defs", {})
    rows = ["| field | type | limits | default | description |", "| --- | --- | --- | --- | --- |"]
    required = set(schema.get("required", []))
    for name, prop in schema["properties"].items():
        default = "required" if name in required else _md_default(name, prop)
        rows.append(
            f"| `{name}` | {_md_type(prop, defs)} | {_md_limits(name, prop, defs)} | {default} | "
            f"{prop.get('description', '')} |"
        )
    return "\n".join(rows)


def _md_default(name: str, prop: Mapping[str, Any]) -> str:
    if name in ("key",):
        return "the file's stem"
    if "default" not in prop or prop["default"] is None:
        return "none" if name not in dialect.DEFAULTS else "`null`"
    return f"`{json.dumps(prop['default'])}`"


def _md_type(prop: Mapping[str, Any], defs: Mapping[str, Any]) -> str:
    options = prop.get("anyOf") or [prop]
    names = []
    for option in options:
        if "$ref" in option:
            names.append("{" + option["$ref"].rsplit("/", 1)[-1] + "}")
        elif "enum" in option:
            names.append(" \\| ".join(f"`{v}`" for v in option["enum"]))
        elif option.get("type") == "array":
            items = option.get("items", {})
            inner = "tool" if "oneOf" in items or "discriminator" in items else items.get("type", "any")
            names.append(f"list of {inner}")
        elif option.get("type") == "object":
            names.append("mapping of string to string")
        elif option.get("type") != "null":
            names.append(str(option.get("type")))
    if prop.get("anyOf") and any(o.get("type") == "null" for o in options):
        names.append("null")
    return " \\| ".join(names)


def _md_limits(name: str, prop: Mapping[str, Any], defs: Mapping[str, Any]) -> str:
    options = prop.get("anyOf") or [prop]
    limits: list[str] = []
    for option in options:
        for word, label in (("maxLength", "≤ {} characters"), ("maxItems", "≤ {} items")):
            if word in option:
                limits.append(label.format(f"{option[word]:,}"))
        if "maxProperties" in option:
            limits.append(f"≤ {option['maxProperties']} pairs")
        if "propertyNames" in option and "maxLength" in option["propertyNames"]:
            limits.append(f"keys ≤ {option['propertyNames']['maxLength']}")
        extra = option.get("additionalProperties")
        if isinstance(extra, dict) and "maxLength" in extra:
            limits.append(f"values ≤ {extra['maxLength']}")
        if "minimum" in option or "maximum" in option:
            limits.append(f"{option.get('minimum')} to {option.get('maximum')}")
        if "pattern" in option:
            limits.append(f"`{option['pattern']}`")
        items = option.get("items", {})
        if isinstance(items, dict) and "pattern" in items:
            limits.append(f"each `{items['pattern']}`")
    return ", ".join(limits) or "—"
