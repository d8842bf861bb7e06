"""The pydantic model of one manifest (one assistant's desired state) and its JSON Schema.

Validation is strict: no unknown fields, no type coercion. Errors raised here carry a `subpath` (where in the
field the problem is) and, for cross-field rules, `at_key` (point at the field's key, not its value) in their
context; `messages` turns them into text (with `field_names_at` for did-you-mean). Defaults are
`dialect.DEFAULTS`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Annotated, Any, Literal

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

from reconciler import dialect
from reconciler.manifest.errors import Path_, describe

#: Metadata pairs a manifest may set: two of the API's 16 are reserved, for the ownership marker and the drift
#: entry (docs/drift.md).
MAX_USER_METADATA_PAIRS = dialect.MAX_METADATA_PAIRS - 2
#: `files` and `file_ids` together may name at most this many files.
MAX_FILES_TOTAL = dialect.MAX_FILE_IDS

KEY_PATTERN = dialect.KEY_PATTERN
ASSISTANT_ID_PATTERN = r"^asst_[A-Za-z0-9_-]+$"
FILE_ID_PATTERN = r"^[a-z]+-[A-Za-z0-9_-]+$"


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


def json_schema_checked(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """`value` when it is None or a valid JSON Schema; else a `json_schema` error at the problem."""
    if value is None:
        return value
    at = _non_finite(value)
    if at is not None:  # JSON has no NaN or infinity: the request carrying it would not be JSON
        raise PydanticCustomError("finite_number", "expected a finite number", {"subpath": at})
    problem = _schema_problem(value)
    if problem is not None:
        reason, subpath = problem
        raise PydanticCustomError(
            "json_schema", "not a valid JSON Schema: {reason}", {"reason": reason, "subpath": subpath}
        )
    return value


def _non_finite(value: Any) -> tuple[str | int, ...] | None:
    """Where in `value` (plain data) a NaN or an infinity is, or None when it holds none. The common case,
    none, is one pass over the values without paths; only a value holding one is walked again for where."""
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is dict:
            stack += item.values()
        elif kind is list:
            stack += item
        elif kind is float and not math.isfinite(item):
            return _where_non_finite(value)
    return None


def _where_non_finite(value: Any) -> tuple[str | int, ...] | None:
    at_items: list[tuple[tuple[str | int, ...], Any]] = [((), value)]
    while at_items:
        at, item = at_items.pop()
        if type(item) is float and not math.isfinite(item):
            return at
        if type(item) is dict:
            at_items += [((*at, k), v) for k, v in item.items()]
        elif type(item) is list:
            at_items += [((*at, i), v) for i, v in enumerate(item)]
    return None


class FunctionDefinition(_Strict):
    """A function the assistant may call; `parameters` is a JSON Schema of its arguments."""

    name: str = Field(
        max_length=dialect.MAX_FUNCTION_NAME,
        pattern=dialect.FUNCTION_NAME_PATTERN,
        description="The function's name: 1-64 letters, digits, '_' or '-'.",
    )
    description: str | None = Field(
        default=None, description="What the function does; the model uses it to decide when to call it."
    )
    parameters: dict[str, Any] | None = Field(
        default=None, description="The function's arguments as a JSON Schema object."
    )

    _parameters = field_validator("parameters")(json_schema_checked)


#: `repr` of a schema → its problem; `repr` is a cheap exact key for plain data (equal text, equal data).
_SCHEMA_PROBLEMS: dict[str, tuple[str, tuple[str | int, ...]] | None] = {}
_SCHEMA_CACHE_SIZE = 1024


def _schema_problem(schema: dict[str, Any]) -> tuple[str, tuple[str | int, ...]] | None:
    """The most relevant metaschema violation of a JSON Schema, or None when valid.

    The draft is the schema's `$schema`, else draft 7 (what function-calling documentation uses, and far
    quicker to check than 2020-12). Cached: the same function definitions recur across assistants.
    """
    if _plainly_valid(schema):
        return None
    key = repr(schema)
    if key in _SCHEMA_PROBLEMS:
        return _SCHEMA_PROBLEMS[key]
    import jsonschema  # here: its import costs a plan without function parameters a fifth of its start-up

    plain = json.loads(json.dumps(schema, sort_keys=True, default=str))
    validator = jsonschema.validators.validator_for(plain, default=jsonschema.Draft7Validator)
    error = jsonschema.exceptions.best_match(validator(validator.META_SCHEMA).iter_errors(plain))
    problem = None if error is None else (error.message, tuple(error.absolute_path))
    if len(_SCHEMA_PROBLEMS) >= _SCHEMA_CACHE_SIZE:
        _SCHEMA_PROBLEMS.clear()
    _SCHEMA_PROBLEMS[key] = problem
    return problem


#: Draft 7's `simpleTypes`.
_SIMPLE_TYPES = frozenset({"array", "boolean", "integer", "null", "number", "object", "string"})


def _simple_type(value: Any) -> bool:
    return type(value) is str and value in _SIMPLE_TYPES


def _unique_list_of(value: Any, item: Callable[[Any], bool]) -> bool:
    return type(value) is list and all(item(v) for v in value) and len(set(value)) == len(value)


def _count(value: Any) -> bool:
    return type(value) is int and value >= 0


#: The keywords function parameters mostly use, each with what draft 7's metaschema requires of its value
#: (`default` and the items of `enum` may be anything).
_PLAIN_KEYWORDS: dict[str, Callable[[Any], bool]] = {
    "type": lambda v: _simple_type(v) or (bool(v) and _unique_list_of(v, _simple_type)),
    "properties": lambda v: (
        type(v) is dict and all(type(k) is str and _plainly_valid(s) for k, s in v.items())
    ),
    "required": lambda v: _unique_list_of(v, lambda item: type(item) is str),
    "description": lambda v: type(v) is str,
    "title": lambda v: type(v) is str,
    "enum": lambda v: type(v) is list,
    "default": lambda v: True,
    "items": lambda v: _plainly_valid(v),
    "additionalProperties": lambda v: _plainly_valid(v),
    "minLength": _count,
    "maxLength": _count,
    "minItems": _count,
    "maxItems": _count,
    "minimum": lambda v: type(v) in (int, float),
    "maximum": lambda v: type(v) in (int, float),
}


def _plainly_valid(schema: Any) -> bool:
    """True when `schema` is beyond doubt a valid draft 7 schema: a boolean, or an object of only the
    `_PLAIN_KEYWORDS`, each value as the metaschema requires. False means "ask jsonschema", not "invalid":
    the common case is settled without importing jsonschema (a fifth of a small plan's start-up)."""
    if type(schema) is bool:
        return True
    return type(schema) is dict and all(
        type(key) is str and key in _PLAIN_KEYWORDS and _PLAIN_KEYWORDS[key](value)
        for key, value in schema.items()
    )


class FunctionTool(_Strict):
    """`{type: function, function: {...}}`: a function the assistant may call."""

    type: Literal["function"]
    function: FunctionDefinition


Tool = Annotated[CodeInterpreterTool | RetrievalTool | FunctionTool, Field(discriminator="type")]


class ResponseFormatObject(_Strict):
    """`{type: text}` or `{type: json_object}` (JSON mode)."""

    type: Literal["text", "json_object"]


ResponseFormat = Literal["auto", "none"] | ResponseFormatObject


def _number(field: str, bounds: tuple[float, float], description: str) -> Any:
    """The `Field` of a finite number within `bounds` (inclusive), by default the API's default."""
    return Field(
        default=dialect.DEFAULTS[field],
        ge=bounds[0],
        le=bounds[1],
        allow_inf_nan=False,
        description=description,
    )


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
    name: str | None = Field(
        default=dialect.DEFAULTS["name"], max_length=dialect.MAX_NAME, description="Display name."
    )
    description: str | None = Field(
        default=dialect.DEFAULTS["description"],
        max_length=dialect.MAX_DESCRIPTION,
        description="What the assistant is for.",
    )
    model: str = Field(
        min_length=1,
        description="Model ID, e.g. gpt-4-turbo.",
        json_schema_extra={"examples": list(dialect.MODELS)},
    )
    instructions: str | None = Field(
        default=dialect.DEFAULTS["instructions"],
        max_length=dialect.MAX_INSTRUCTIONS,
        description="System instructions. Mutually exclusive with instructions_file.",
    )
    instructions_file: RelativePath | None = Field(
        default=None,
        description="Read the instructions from this UTF-8 file (relative to the manifest, inside the "
        "repository). Mutually exclusive with instructions.",
    )
    tools: list[Tool] = Field(
        default_factory=list,
        json_schema_extra={"default": []},
        max_length=dialect.MAX_TOOLS,
        description="Tools: code_interpreter, retrieval, or function.",
    )
    file_ids: list[FileId] = Field(
        default_factory=list,
        json_schema_extra={"default": []},
        max_length=dialect.MAX_FILE_IDS,
        description="IDs of uploaded files (file-...) attached to the assistant; unique. "
        f"Together with files at most {MAX_FILES_TOTAL}.",
    )
    files: list[RelativePath] = Field(
        default_factory=list,
        json_schema_extra={"default": []},
        max_length=MAX_FILES_TOTAL,
        description="Knowledge files to upload and attach (paths relative to the manifest, inside the "
        f"repository, each at most {dialect.MAX_FILE_BYTES // 2**20} MB). "
        f"Together with file_ids at most {MAX_FILES_TOTAL}.",
    )
    metadata: dict[MetadataKey, MetadataValue] = Field(
        default_factory=dict,
        json_schema_extra={"default": {}},
        max_length=MAX_USER_METADATA_PAIRS,
        description=f"String key-value pairs (at most {MAX_USER_METADATA_PAIRS}: the API allows "
        f"{dialect.MAX_METADATA_PAIRS}; two hold the ownership marker and the drift entry). Keys "
        f"starting with '{dialect.RESERVED_PREFIX}' are reserved.",
    )
    temperature: float = _number("temperature", dialect.TEMPERATURE_RANGE, "Sampling temperature, 0 to 2.")
    top_p: float = _number("top_p", dialect.TOP_P_RANGE, "Nucleus sampling probability mass, 0 to 1.")
    response_format: ResponseFormat = Field(
        default=dialect.DEFAULTS["response_format"],
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
        got = f"'{value}'" if isinstance(value, str) else describe(value)
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
            if tool.type == "function":  # (isinstance on a model class goes through ABCMeta: slow)
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
        one_source_of_instructions(self.instructions, self.instructions_file)
        total = len(self.files) + len(self.file_ids)
        if total > MAX_FILES_TOTAL:
            raise PydanticCustomError(
                "too_many_files",
                "files and file_ids name {total} files together; at most {limit}",
                {"total": total, "limit": MAX_FILES_TOTAL, "subpath": ("files",)},
            )
        if total and not any(tool.type in dialect.V1_FILE_TOOLS for tool in self.tools):
            named = "files" if self.files else "file_ids"
            raise PydanticCustomError(
                "file_tools",
                f"{named} need a retrieval or code_interpreter tool in tools (the API refuses them: "
                f'"{dialect.FILE_IDS_NEED_A_TOOL}")',
                {"subpath": (named,), "at_key": True},
            )
        return self


def one_source_of_instructions(instructions: str | None, instructions_file: str | None) -> None:
    """Refuse a manifest that sets both `instructions` and `instructions_file` (at the latter)."""
    if instructions is not None and instructions_file is not None:
        raise PydanticCustomError(
            "exclusive",
            "set either instructions or instructions_file, not both",
            {"subpath": ("instructions_file",)},
        )


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
    schema["properties"].update(ENVIRONMENT_FIELDS)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **schema,
    }


def field_names_at(path: Path_, data: Any) -> list[str]:
    """The field names a manifest allows at `path` in `data` (for did-you-mean); [] where it names none."""
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


#: The per-environment fields (`manifest.overrides`), merged away before the model sees a manifest.
ENVIRONMENT_FIELDS: dict[str, Any] = {
    "only": {
        "description": "The environments of reconciler.yaml this assistant exists in (default: all). "
        "docs/environments.md",
        "type": "array",
        "items": {"type": "string"},
        "minItems": 1,
    },
    "environments": {
        "description": "Overrides by environment name: a field replaces, metadata merges by key, null "
        "removes. docs/environments.md",
        "type": "object",
        "additionalProperties": {"type": "object"},
    },
}
