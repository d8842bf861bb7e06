"""Facts about the OpenAI Agents API saved agent (`/v1/agents`, `OpenAI-Beta: agents=v1`), kept as data.

This is pure data for the coming agent support (issue 18): manifests in `agents/`, plan/apply, the emulator's
`/v1/agents` routes and `reconciler migrate`. It has no behaviour and imports nothing from the rest of
reconciler. Every value, with its source and its confidence, is explained in `docs/agents-api.md`, which is
the reference: change both together. Where that note says a fact is unknown, this module says `UNKNOWN` (or
`"unconfirmed"`) and leaves it at that: an unknown is never replaced by a guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Literal


class Marker(Enum):
    """A default that is not a JSON value."""

    REQUIRED = "required: there is no default"
    UNKNOWN = "not documented"


REQUIRED = Marker.REQUIRED
UNKNOWN = Marker.UNKNOWN

# --- Transport (docs/agents-api.md §2, §3)

BASE_URL = "https://api.openai.com/v1"
BETA_HEADER = ("OpenAI-Beta", "agents=v1")
ID_PREFIX: str | Marker = UNKNOWN  # the reference examples show "id": "id"; see §11.1

OBJECT = "agent"
DELETED_OBJECT = "agent.deleted"
LIST_OBJECT = "list"

HttpMethod = Literal["GET", "POST", "DELETE"]


@dataclass(frozen=True)
class Route:
    """One agent operation. `path` is relative to `BASE_URL`; `{agent_id}` is the one path parameter."""

    name: str
    method: HttpMethod
    path: str
    body: Literal["create", "update", "none"]
    returns: Literal["agent", "agent_list", "agent_deleted"]


ROUTES: tuple[Route, ...] = (
    Route("create", "POST", "/agents", "create", "agent"),
    Route("retrieve", "GET", "/agents/{agent_id}", "none", "agent"),
    Route("update", "POST", "/agents/{agent_id}", "update", "agent"),
    Route("list", "GET", "/agents", "none", "agent_list"),
    Route("delete", "DELETE", "/agents/{agent_id}", "none", "agent_deleted"),
)
AGENT_ID_MAX_LENGTH = 1_048_576  # path parameter `agent_id`

# --- Limits (§4.1, §4.2)

MODEL_MAX_LENGTH = 1_048_576
INSTRUCTIONS_MAX_LENGTH = 1_048_576
NAME_MAX_LENGTH = 128
METADATA_MAX_PAIRS = 16
METADATA_KEY_MAX_LENGTH = 64
METADATA_VALUE_MAX_LENGTH = 512
TOOLS_MAX_JSON_BYTES = 3_145_728  # the whole list, as compact UTF-8 JSON; no item count is documented
MAX_CONCURRENT_SUBAGENTS_RANGE = (1, 4_294_967_295)
MAX_CONCURRENT_SUBAGENTS_DEFAULT = 6

# --- Enums (§4, §5, §8)

SERVICE_TIERS_REQUEST = ("auto", "default", "flex", "priority", "fast")
SERVICE_TIERS_RESPONSE = (*SERVICE_TIERS_REQUEST, "ultrafast")  # `ultrafast` on requests: §11.10
REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh", "max")
REASONING_SUMMARIES = ("concise", "detailed", "auto")
TEXT_VERBOSITIES = ("low", "medium", "high")
TEXT_FORMAT_TYPES = ("text", "json_schema")
LIST_ORDERS = ("asc", "desc")

# --- Agent fields (§4.1 requests, §5 responses)

UpdateRule = Literal["unchanged", "clear", "reset_default", "not_nullable", "unconfirmed"]
"""What an update does to a field. `unchanged`: the stored value stays. `clear`: back to empty (null, {}
or []). `reset_default`: back to the server default. `not_nullable`: the type has no null. `unconfirmed`: not
documented."""

Confidence = Literal["documented", "inferred", "unconfirmed"]


@dataclass(frozen=True)
class AgentField:
    """A writable field of the agent: its request rules and how it reads back.

    `default` is the value the agent holds after a create that omits the field (a JSON value), or `REQUIRED`
    (required on create) or `UNKNOWN`. Each update rule is paired with its confidence.
    """

    name: str
    json_type: str
    default: object
    update_when_omitted: tuple[UpdateRule, Confidence]
    update_when_null: tuple[UpdateRule, Confidence]
    request_nullable: bool = True
    response_nullable: bool = False
    max_length: int | None = None
    enum: tuple[str, ...] = ()
    replaces_whole: bool = False  # a new value replaces the stored one entirely (no merge)


_KEEP_DOCUMENTED: tuple[UpdateRule, Confidence] = ("unchanged", "documented")
_KEEP_INFERRED: tuple[UpdateRule, Confidence] = ("unchanged", "inferred")
_CLEAR_DOCUMENTED: tuple[UpdateRule, Confidence] = ("clear", "documented")
_NULL_UNKNOWN: tuple[UpdateRule, Confidence] = ("unconfirmed", "unconfirmed")

DEFAULT_TEXT = {"format": {"type": "text"}, "verbosity": "medium"}
DEFAULT_MULTI_AGENT = {"enabled": False, "max_concurrent_subagents": None}

FIELDS: tuple[AgentField, ...] = (
    AgentField(
        "model",
        "string",
        default=REQUIRED,
        update_when_omitted=_KEEP_INFERRED,
        update_when_null=("not_nullable", "documented"),
        request_nullable=False,
        max_length=MODEL_MAX_LENGTH,
    ),
    AgentField(
        "instructions",
        "string",
        default=None,
        update_when_omitted=_KEEP_DOCUMENTED,
        update_when_null=_NULL_UNKNOWN,
        response_nullable=True,
        max_length=INSTRUCTIONS_MAX_LENGTH,
    ),
    AgentField(
        "name",
        "string",
        default=None,
        update_when_omitted=_KEEP_DOCUMENTED,
        update_when_null=_CLEAR_DOCUMENTED,
        response_nullable=True,
        max_length=NAME_MAX_LENGTH,
    ),
    AgentField(
        "metadata",
        "object",
        default={},
        update_when_omitted=_KEEP_DOCUMENTED,
        update_when_null=_CLEAR_DOCUMENTED,
        replaces_whole=True,
    ),
    AgentField(
        "reasoning",
        "object",
        default=UNKNOWN,  # what `effort` reads back when omitted: §11.7
        update_when_omitted=_KEEP_DOCUMENTED,
        update_when_null=("reset_default", "documented"),
    ),
    AgentField(
        "service_tier",
        "string",
        default="auto",
        update_when_omitted=_KEEP_INFERRED,
        update_when_null=_NULL_UNKNOWN,
        enum=SERVICE_TIERS_REQUEST,
    ),
    AgentField(
        "text",
        "object",
        default=DEFAULT_TEXT,
        update_when_omitted=_KEEP_INFERRED,
        update_when_null=_NULL_UNKNOWN,
    ),
    AgentField(
        "multi_agent",
        "object",
        default=DEFAULT_MULTI_AGENT,
        update_when_omitted=_KEEP_INFERRED,
        update_when_null=_NULL_UNKNOWN,
    ),
    AgentField(
        "tools",
        "array",
        default=[],
        update_when_omitted=_KEEP_DOCUMENTED,
        update_when_null=_CLEAR_DOCUMENTED,
        replaces_whole=True,
    ),
)

READ_ONLY_FIELDS = ("id", "object", "created_at", "updated_at")
"""Server-set fields. Every response carries these and every field of FIELDS (§5)."""

RESPONSE_FIELDS = tuple(sorted((*READ_ONLY_FIELDS, *(field.name for field in FIELDS))))
DELETED_FIELDS = ("deleted", "id", "object")  # `deleted` is always true (§6)

# --- Nested request objects (§4.2)


@dataclass(frozen=True)
class SubField:
    """A field of a nested object or of a tool.

    `default` is what a read shows when a request omitted the field (a JSON value), `REQUIRED` (the field is
    required in requests) or `UNKNOWN`.
    """

    name: str
    json_type: str
    default: object = REQUIRED
    enum: tuple[str, ...] = ()
    request_nullable: bool = False
    response_nullable: bool = False

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


REASONING_FIELDS = (
    SubField("effort", "string", UNKNOWN, REASONING_EFFORTS, request_nullable=True, response_nullable=True),
    SubField(
        "summary", "string", UNKNOWN, REASONING_SUMMARIES, request_nullable=True, response_nullable=True
    ),
)
TEXT_FIELDS = (
    SubField("format", "object", {"type": "text"}, request_nullable=True),
    SubField("verbosity", "string", "medium", TEXT_VERBOSITIES, request_nullable=True),
)
MULTI_AGENT_FIELDS = (
    SubField("enabled", "boolean"),
    # reads back null while disabled; 6 when enabled and omitted
    SubField("max_concurrent_subagents", "integer", MAX_CONCURRENT_SUBAGENTS_DEFAULT, response_nullable=True),
)
JSON_SCHEMA_FORMAT_FIELDS = (SubField("schema", "object"),)
"""`text.format` of type `json_schema`: only `type` and `schema` (no name, strict or description)."""

# --- Tools (§8)


@dataclass(frozen=True)
class Variant:
    """One member of a union discriminated by `type`. `fields` excludes `type` itself."""

    type: str
    fields: tuple[SubField, ...]


TOOL_VARIANTS: tuple[Variant, ...] = (
    Variant(
        "function",
        (
            SubField("name", "string"),
            SubField("description", "string"),
            SubField("parameters", "object"),  # a JSON Schema
            SubField("defer_loading", "boolean", False),
        ),
    ),
    Variant("tool_search", ()),
    Variant("programmatic_tool_calling", (SubField("enabled", "boolean", True),)),
    Variant(
        "mcp",
        (
            SubField("server_label", "string"),
            SubField("transport", "object"),  # one of MCP_TRANSPORTS
            # null: every server tool is allowed
            SubField("allowed_tools", "array", None, request_nullable=True, response_nullable=True),
            SubField(
                "connection_origin", "string", UNKNOWN, ("service", "environment"), request_nullable=True
            ),
            # a vault credential (§8.4)
            SubField("credential_id", "string", None, request_nullable=True, response_nullable=True),
            SubField("request_metadata", "object", UNKNOWN, request_nullable=True),
            SubField("required", "boolean", False),
        ),
    ),
    Variant(
        "web_search",
        (
            SubField("allowed_domains", "array", None, request_nullable=True, response_nullable=True),
            SubField("context_size", "string", "medium", ("low", "medium", "high"), request_nullable=True),
            # fields: WEB_SEARCH_LOCATION_FIELDS
            SubField("location", "object", None, request_nullable=True, response_nullable=True),
            SubField("mode", "string", "live", ("disabled", "cached", "live"), request_nullable=True),
        ),
    ),
    Variant("computer_use", (SubField("include_screenshots", "boolean", False),)),
)

WEB_SEARCH_LOCATION_FIELDS = tuple(
    SubField(name, "string", None, request_nullable=True, response_nullable=True)
    for name in ("city", "country", "region", "timezone")
)

MCP_TRANSPORTS: tuple[Variant, ...] = (
    Variant(
        "http",
        (
            SubField("server_url", "string"),
            SubField("headers", "object", UNKNOWN, request_nullable=True),  # non-secret headers only
        ),
    ),
    Variant(
        "stdio",
        (
            SubField("command", "string"),
            SubField("cwd", "string"),
            SubField("args", "array", UNKNOWN, request_nullable=True),
            SubField("env_vars", "array", UNKNOWN, request_nullable=True),  # variable names, never values
        ),
    ),
)
SESSION_ONLY_TRANSPORT_FIELDS = {"http": ("authorization",), "stdio": ("env",)}
"""Credential-bearing transport fields that exist on session tools but not on a saved agent (§8.3)."""

# --- Listing (§7)

LIST_PARAMS = ("after", "limit", "order")  # no `before`
LIST_ORDER_DEFAULT = "desc"
LIST_LIMIT_MIN = 1
LIST_LIMIT_MAX: int | Marker = UNKNOWN
LIST_LIMIT_DEFAULT: int | Marker = UNKNOWN
LIST_ENVELOPE_FIELDS = ("data", "first_id", "has_more", "last_id", "object")

# --- Errors (§10)

ERROR_FIELDS = ("message", "type", "param", "code")  # inside {"error": {...}}
DOCUMENTED_ERROR_MESSAGES: tuple[str, ...] = ()  # none is documented for the agent routes

# --- Assistants v1 to saved agent (§9)

Loss = Literal["none", "partial", "total"]


@dataclass(frozen=True)
class Migration:
    """Where an Assistants v1 field or tool goes on a saved agent (`target` None: nowhere), and the loss."""

    source: str
    target: str | None
    loss: Loss
    note: str


V1_FIELDS: tuple[Migration, ...] = (
    Migration("model", "model", "none", "kept as is; whether v1-era model names are accepted is unknown"),
    Migration("name", "name", "partial", f"v1 allows 256 characters, an agent {NAME_MAX_LENGTH}"),
    Migration("description", None, "total", "agents have no description (it would fit one metadata value)"),
    Migration(
        "instructions", "instructions", "none", "now appended to the agent's default base instructions"
    ),
    Migration(
        "metadata", "metadata", "none", "same limits (16 pairs, keys 64, values 512): the marker carries over"
    ),
    Migration("file_ids", None, "total", "files belong to environments and sessions, not to agents"),
    Migration("files", None, "total", "knowledge files: same as file_ids"),
    Migration("temperature", None, "total", "agents have no sampling parameters"),
    Migration("top_p", None, "total", "agents have no sampling parameters"),
    Migration("response_format", "text", "partial", "text stays text; json_object has no equivalent"),
)

V1_TOOLS: tuple[Migration, ...] = (
    Migration(
        "function", "function", "none", "flattened (no `function` wrapper); description, parameters required"
    ),
    Migration("retrieval", None, "total", "saved agents have no retrieval or file search tool"),
    Migration("code_interpreter", None, "total", "code runs in the session's environment, not an agent tool"),
)

# --- What is not known (§11)

UNCONFIRMED: tuple[str, ...] = (
    "agent and credential id prefix and format",
    "HTTP status of successful create, update and delete",
    "every error status, type, code, param and message",
    "the answer to a request without the beta header",
    "update with null for instructions, service_tier, text, multi_agent, model",
    "partial nested objects on update: replaced or merged",
    "reasoning.effort when omitted: null or the model's default",
    "reasoning.summary default",
    "defaults of mcp.connection_origin, mcp.request_metadata, transport headers, args, env_vars",
    "ultrafast accepted on requests",
    "list default and maximum limit, sort key, unknown `after`",
    "function name pattern and length, description length, server_label format, list lengths, tool count",
    "unknown body fields rejected",
    "model checked at create time",
    "credential-bearing MCP headers rejected",
    "text of the default base instructions",
    "empty description and parameters accepted for a function",
    "retrieve or delete after delete",
    "rate-limit and request-id headers",
)
