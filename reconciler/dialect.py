"""The Assistants v1 dialect: how a manifest maps to v1 payloads and how v1 objects are compared.

Everything v1-specific lives here (fields, defaults, limits, the ownership marker, payload shapes), so a v2
dialect can be added beside it without touching the Plan, the diff or the renderers.

The *normal form* of an assistant is a plain dict with exactly the keys of `FIELDS`, every default filled in,
`file_ids` sorted, `tools` sorted by their canonical JSON, numbers canonical (1 and 1.0 are the same), and
`metadata` a dict without the drift entry (`APPLIED_KEY`). Two assistants are equal exactly when their normal
forms are equal; `canonical_hash` hashes that form.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    from reconciler.remote import Remote

#: An object as the dialect reads it: an existing one from the client (`RemoteAssistant`, or any kind's for
#: the ownership rules, which saved agents share), or a plain dict (a desired state).
Assistant: TypeAlias = "Mapping[str, Any] | Remote"

API_VERSION = "v1"
BETA_HEADER = ("OpenAI-Beta", "assistants=v1")

#: What a manifest key is (the file's stem or `key:`); the ownership marker holds one.
KEY_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,62}$"
_KEY = re.compile(KEY_PATTERN)

#: The reserved metadata entry that marks an assistant as managed; its value is the manifest key.
MARKER_KEY = "reconciler_key"
#: The reserved metadata entry recording what the last apply wrote (`reconciler.drift`). It is not part of
#: the normal form: it never makes a difference by itself.
APPLIED_KEY = "reconciler_applied"
#: Metadata keys starting with this prefix (case-insensitive) are reserved for the tool.
RESERVED_PREFIX = "reconciler"

#: The assistant fields a manifest manages, in the order people write and read them.
FIELDS: tuple[str, ...] = (
    "name",
    "description",
    "model",
    "instructions",
    "tools",
    "file_ids",
    "metadata",
    "temperature",
    "top_p",
    "response_format",
)

#: API defaults: an omitted manifest field, or a field the server does not return, counts as this.
DEFAULTS: dict[str, Any] = {
    "name": None,
    "description": None,
    "instructions": None,
    "tools": [],
    "file_ids": [],
    "metadata": {},
    "temperature": 1.0,
    "top_p": 1.0,
    "response_format": "auto",
}

#: Fields added to v1 requests only in its last revision (2024-04-16). Older v1 servers reject them, so a
#: create leaves them out while they equal their defaults.
LATE_FIELDS: tuple[str, ...] = ("temperature", "top_p", "response_format")

#: Fields the API replaces wholesale on modify: when any part changes, the whole value is sent.
WHOLE_FIELDS: tuple[str, ...] = ("tools", "file_ids", "metadata")

# Limits of the v1 API (docs/api-v1.md §4); the prose-only ones included.
MAX_NAME = 256
MAX_DESCRIPTION = 512
MAX_INSTRUCTIONS = 256_000
MAX_TOOLS = 128
MAX_FILE_IDS = 20
MAX_METADATA_PAIRS = 16
MAX_METADATA_KEY = 64
MAX_METADATA_VALUE = 512
TEMPERATURE_RANGE = (0.0, 2.0)
TOP_P_RANGE = (0.0, 1.0)
FUNCTION_NAME_PATTERN = r"^[a-zA-Z0-9_-]{1,64}$"
MAX_FILE_BYTES = 512 * 1024 * 1024
RESPONSE_FORMAT_STRINGS = ("auto", "none")
RESPONSE_FORMAT_TYPES = ("text", "json_object")
TOOL_TYPES = ("code_interpreter", "retrieval", "function")
#: Models of the v1 era (the spec's documented enum); the emulator serves these from `/models`.
MODELS: tuple[str, ...] = (
    "gpt-4-turbo",
    "gpt-4-turbo-2024-04-09",
    "gpt-4-0125-preview",
    "gpt-4-turbo-preview",
    "gpt-4-1106-preview",
    "gpt-4-vision-preview",
    "gpt-4",
    "gpt-4-0314",
    "gpt-4-0613",
    "gpt-4-32k",
    "gpt-4-32k-0314",
    "gpt-4-32k-0613",
    "gpt-3.5-turbo",
    "gpt-3.5-turbo-16k",
    "gpt-3.5-turbo-0613",
    "gpt-3.5-turbo-1106",
    "gpt-3.5-turbo-0125",
    "gpt-3.5-turbo-16k-0613",
)


def is_reserved_metadata_key(key: str) -> bool:
    """True for metadata keys that manifests may not set."""
    return key.lower().startswith(RESERVED_PREFIX)


def field_of(assistant: Assistant, field: str) -> Any:
    """One field of an assistant, typed value or plain dict alike (None when absent)."""
    if type(assistant) is dict or isinstance(assistant, Mapping):
        return assistant.get(field)
    return getattr(assistant, field, None)


def marker_of(assistant: Assistant) -> str | None:
    """The key an existing assistant is managed under, or None when it is unmanaged. Only a key is a marker
    (`is_key`): reconciler writes no other value, and one a server holds (a newline, a colour escape) would
    otherwise reach plans and pull-request comments as a key, outside every escaped value."""
    metadata = field_of(assistant, "metadata") or {}
    value = metadata.get(MARKER_KEY) if type(metadata) is dict or isinstance(metadata, Mapping) else None
    return value if isinstance(value, str) and is_key(value) else None


def is_key(text: str) -> bool:
    """Whether `text` is a manifest key (`KEY_PATTERN`)."""
    return _KEY.fullmatch(text) is not None


#: What an object's `id` is: printable ASCII, no spaces, at most 256 characters (`asst_...`, `file-...`).
_OBJECT_ID = re.compile(r"[!-~]{1,256}")


def is_object_id(text: str) -> bool:
    """Whether `text` has the form of an object id. Ids are shown in plans and pull-request comments as they
    are: a line break or an escape in one would forge lines there."""
    return _OBJECT_ID.fullmatch(text) is not None


def claim_order(assistant: Assistant) -> tuple[int, str]:
    """The order among assistants claiming one key: `(created_at, id)`; the minimum is the canonical one."""
    return int(field_of(assistant, "created_at") or 0), str(field_of(assistant, "id"))


def canonical_json(value: Any) -> str:
    """JSON with sorted keys, no whitespace and canonical numbers: equal values give equal text."""
    return json.dumps(_canon_numbers(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_hash(value: Any) -> str:
    """`sha256:<hex>` of `canonical_json(value)` (`canonical_digest`)."""
    return "sha256:" + canonical_digest(value)


def canonical_digest(value: Any) -> str:
    """The sha256 hex digest of `canonical_json(value)` as UTF-8. A lone surrogate (a server's `"\\ud800"`)
    hashes as its surrogatepass bytes rather than failing; other text is plain UTF-8."""
    return hashlib.sha256(canonical_json(value).encode("utf-8", "surrogatepass")).hexdigest()


#: Exact types `_canon_numbers` returns as they are (bool is a subclass of int, already kept by the check).
_LEAVES = frozenset({str, int, bool, type(None)})


def _canon_numbers(value: Any) -> Any:
    """Integral floats become ints (JSON does not tell 1 from 1.0); containers are walked.

    Plain dicts and lists (what a normal form is made of) are walked without a call per leaf, by exact type;
    anything else goes through the general checks, leaves (strings, ints and bools, None) first and plain
    dicts before the `Mapping` ABC, whose check is slow.
    """
    kind = type(value)
    if kind is dict:
        return {
            (k if type(k) is str else str(k)): (v if type(v) in _LEAVES else _canon_numbers(v))
            for k, v in value.items()
        }
    if kind is list:
        return [v if type(v) in _LEAVES else _canon_numbers(v) for v in value]
    if isinstance(value, (str, int)) or value is None:
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, (dict, Mapping)):
        return {str(k): _canon_numbers(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canon_numbers(v) for v in value]
    return value


def normalise_tool(tool: Mapping[str, Any]) -> dict[str, Any]:
    """A tool in normal form: function `description`/`parameters` dropped when null, numbers canonical."""
    tool = dict(tool)
    if tool.get("type") == "function" and isinstance(tool.get("function"), Mapping):
        function = {k: v for k, v in tool["function"].items() if v is not None}
        tool["function"] = _canon_numbers(function)
    return tool


def normalise(assistant: Assistant) -> dict[str, Any]:
    """The normal form (see module docstring) of an API assistant object or of a desired state.

    Unknown keys (`id`, `object`, `created_at`...) are dropped; missing or null fields take their defaults
    (a null `tools`/`file_ids`/`metadata` is empty; a null `name` stays null).
    """
    out: dict[str, Any] = {}
    # `field_of` per field, with the dict-or-object question asked once (this runs for every assistant).
    get = (
        assistant.get
        if type(assistant) is dict or isinstance(assistant, Mapping)
        else functools.partial(getattr, assistant)
    )
    for field in FIELDS:
        value = get(field, None)
        if value is None:
            value = DEFAULTS.get(field)
        out[field] = value
    tools = [normalise_tool(t) for t in out["tools"] or []]
    out["tools"] = sorted(tools, key=canonical_json) if len(tools) > 1 else tools
    out["file_ids"] = sorted(out["file_ids"] or [])
    out["metadata"] = dict(out["metadata"] or {})
    out["metadata"].pop(APPLIED_KEY, None)
    for field in ("temperature", "top_p"):
        if isinstance(out[field], (int, float)) and not isinstance(out[field], bool):
            out[field] = float(out[field])
    if out["response_format"] is not None and isinstance(out["response_format"], Mapping):
        out["response_format"] = dict(out["response_format"])
    return out


def desired_state(fields: Mapping[str, Any], key: str) -> dict[str, Any]:
    """The normal form a manifest asks for: its fields plus the ownership marker in `metadata`.

    `fields` holds the manifest's API fields (any subset of `FIELDS`, instructions already read from
    `instructions_file`); omitted ones converge to their defaults.
    """
    state = normalise(fields)
    state["metadata"] = {**state["metadata"], MARKER_KEY: key}
    return state


def changed_fields(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """The top-level fields whose normal forms differ, in `FIELDS` order (cheap exact check, no deepdiff)."""
    return [f for f in FIELDS if canonical_json(before.get(f)) != canonical_json(after.get(f))]


def create_body(desired: Mapping[str, Any]) -> dict[str, Any]:
    """The body of `POST /assistants` for a desired normal form: every field, except late-v1 fields left at
    their defaults and null optional strings (omitted means the same to the API)."""
    body: dict[str, Any] = {}
    for field in FIELDS:
        value = desired[field]
        if field in LATE_FIELDS and canonical_json(value) == canonical_json(DEFAULTS[field]):
            continue
        if value is None:
            continue
        body[field] = value
    return body


def update_body(desired: Mapping[str, Any], fields: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """The body of `POST /assistants/{id}`: only `fields`, each whole, nulls sent as null (to clear them)."""
    return {field: desired[field] for field in fields}


# -- What the v1 service accepted and refused (its last state; sources in docs/emulator.md) ----------------

#: Models Assistants v1 accepted for an assistant (the v1 spec's documented enum).
V1_ASSISTANT_MODELS: tuple[str, ...] = MODELS

#: Every model a typical account listed on `GET /v1/models` in 2024, as `(id, created, owned_by)`.
V1_ACCOUNT_MODELS: tuple[tuple[str, int, str], ...] = (
    ("gpt-4-turbo", 1712361441, "system"),
    ("gpt-4-turbo-2024-04-09", 1712601677, "system"),
    ("gpt-4-0125-preview", 1706037612, "system"),
    ("gpt-4-turbo-preview", 1706037777, "system"),
    ("gpt-4-1106-preview", 1698957206, "system"),
    ("gpt-4-vision-preview", 1698894917, "system"),
    ("gpt-4-1106-vision-preview", 1711473033, "system"),
    ("gpt-4", 1687882411, "openai"),
    ("gpt-4-0314", 1687882410, "openai"),
    ("gpt-4-0613", 1686588896, "openai"),
    ("gpt-4-32k", 1687979321, "openai"),
    ("gpt-4-32k-0314", 1687979321, "openai"),
    ("gpt-4-32k-0613", 1687979321, "openai"),
    ("gpt-4o", 1715367049, "system"),
    ("gpt-4o-2024-05-13", 1715368132, "system"),
    ("gpt-4o-mini", 1721172741, "system"),
    ("gpt-4o-mini-2024-07-18", 1721172717, "system"),
    ("gpt-3.5-turbo", 1677610602, "openai"),
    ("gpt-3.5-turbo-16k", 1683758102, "openai-internal"),
    ("gpt-3.5-turbo-0301", 1677649963, "openai"),
    ("gpt-3.5-turbo-0613", 1686587434, "openai"),
    ("gpt-3.5-turbo-1106", 1698959748, "system"),
    ("gpt-3.5-turbo-0125", 1706048358, "system"),
    ("gpt-3.5-turbo-16k-0613", 1685474247, "openai"),
    ("gpt-3.5-turbo-instruct", 1692901427, "system"),
    ("gpt-3.5-turbo-instruct-0914", 1694122472, "system"),
    ("babbage-002", 1692634615, "system"),
    ("davinci-002", 1692634301, "system"),
    ("text-embedding-ada-002", 1671217299, "openai-internal"),
    ("text-embedding-3-small", 1705948997, "system"),
    ("text-embedding-3-large", 1705953180, "system"),
    ("tts-1", 1681940951, "openai-internal"),
    ("tts-1-hd", 1699046015, "system"),
    ("tts-1-1106", 1699053241, "system"),
    ("tts-1-hd-1106", 1699053533, "system"),
    ("whisper-1", 1677532384, "openai-internal"),
    ("dall-e-2", 1698798177, "system"),
    ("dall-e-3", 1698785189, "system"),
)

#: Refusal kinds: the model exists but only Assistants v2 takes it, or the Assistants API never took it.
REFUSED_V2_ONLY = "v2_only"
REFUSED_UNSUPPORTED = "unsupported"

#: Models the account lists but v1 refused at create/modify, with the kind of refusal.
V1_REFUSED_MODELS: dict[str, str] = {
    model: REFUSED_V2_ONLY if model.startswith("gpt-4o") else REFUSED_UNSUPPORTED
    for model, _, _ in V1_ACCOUNT_MODELS
    if model not in V1_ASSISTANT_MODELS
}


def v1_model_refusal(model: str) -> tuple[str, str] | None:
    """`(code, message)` of the 400 (param `model`) Assistants v1 answered for `model` at create or modify,
    or None when v1 accepted it: `unsupported_model` for a model it refused, `model_not_found` for one that
    does not exist."""
    if model in V1_ASSISTANT_MODELS:
        return None
    kind = V1_REFUSED_MODELS.get(model)
    if kind == REFUSED_V2_ONLY:
        return (
            "unsupported_model",
            f"The requested model '{model}' cannot be used with the Assistants API in v1. Follow the "
            "migration guide to upgrade to v2: https://platform.openai.com/docs/assistants/migration.",
        )
    if kind == REFUSED_UNSUPPORTED:
        return "unsupported_model", f"The requested model '{model}' cannot be used with the Assistants API."
    return "model_not_found", f"The requested model '{model}' does not exist."


#: A function name longer than this is a length error (`string_above_max_length`), not a pattern error.
MAX_FUNCTION_NAME = 64

#: Tools that can read an assistant's files; with none of them, `file_ids` must be empty.
V1_FILE_TOOLS: tuple[str, ...] = ("retrieval", "code_interpreter")
#: File extensions the v1 retrieval tool supported (its documentation's "Supported files", last v1 state).
V1_RETRIEVAL_EXTENSIONS: tuple[str, ...] = (
    ".c", ".cpp", ".docx", ".html", ".java", ".json", ".md", ".pdf", ".php", ".pptx", ".py", ".rb", ".tex",
    ".txt",
)  # fmt: skip
#: File extensions v1 code interpreter supported: the retrieval ones and more.
V1_CODE_INTERPRETER_EXTENSIONS: tuple[str, ...] = (
    *V1_RETRIEVAL_EXTENSIONS,
    ".csv", ".css", ".gif", ".jpeg", ".jpg", ".js", ".png", ".tar", ".ts", ".xlsx", ".xml", ".zip",
)  # fmt: skip
FILE_IDS_NEED_A_TOOL = "file_ids are only supported if retrieval or code_interpreter tools are enabled."


def file_extension(filename: str) -> str:
    """The lower-cased extension with its dot (`.pdf`), or "" when the name has none."""
    stem, dot, ext = filename.rpartition(".")
    return f".{ext.lower()}" if dot and stem and ext else ""


def v1_file_refusal(tool_types: list[str] | tuple[str, ...], filenames: list[str]) -> str | None:
    """The 400 message (param `file_ids`; code `unsupported_file` when extensions are refused) Assistants v1
    answered for an assistant with these tool types and attached file names, or None when it accepted them:
    files with no file tool, or extensions the tool cannot use (with `retrieval`, those outside
    `V1_RETRIEVAL_EXTENSIONS`; with only `code_interpreter`, those outside `V1_CODE_INTERPRETER_EXTENSIONS`),
    listed in first-seen order."""
    if not filenames:
        return None
    if not any(tool in V1_FILE_TOOLS for tool in tool_types):
        return FILE_IDS_NEED_A_TOOL
    if "retrieval" in tool_types:
        tool, allowed = "retrieval", V1_RETRIEVAL_EXTENSIONS
    else:
        tool, allowed = "code interpreter", V1_CODE_INTERPRETER_EXTENSIONS
    refused = list(dict.fromkeys(ext for ext in map(file_extension, filenames) if ext not in allowed))
    if not refused:
        return None
    return (
        f"Files with extensions [{', '.join(refused)}] are not supported for {tool}. "
        "See https://platform.openai.com/docs/assistants/tools/supported-files."
    )
