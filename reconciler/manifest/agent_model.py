"""The pydantic model of one agent manifest (one saved agent's desired state) and its JSON Schema.

Fields, limits, enums and tool variants come from `reconciler.agents_facts` (docs/agents-api.md): the nine
writable fields of a saved agent, plus `key` and `instructions_file` as for assistants. Validation is strict
like the assistant model's (`model._Strict`): no unknown fields, no coercion. Null means the default, as an
omitted field does: a manifest is the whole desired agent.

Rules of reconciler's own (the reference documents none): a function `name`, an MCP `server_label`, a stdio
`command` and an http `server_url` must not be empty; function names and server labels are unique among the
tools. Credentials are refused (`secrets`): a saved agent stores none, it names a vault credential with
`credential_id`. Errors carry `subpath` / `at_key` in their context as in `model`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeAlias

from pydantic import ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from reconciler import agent_dialect as dialect
from reconciler import agents_facts as facts
from reconciler.manifest import secrets
from reconciler.manifest.model import (
    ENVIRONMENT_FIELDS,
    KEY_PATTERN,
    MAX_USER_METADATA_PAIRS,
    MetadataKey,
    MetadataValue,
    RelativePath,
    _Strict,
    json_schema_checked,
    one_source_of_instructions,
)

NonEmpty = Annotated[str, Field(min_length=1)]


if TYPE_CHECKING:  # the enums are agents_facts' tuples, made Literals at run time; mypy sees strings
    ServiceTier: TypeAlias = str
    Effort: TypeAlias = str
    Summary: TypeAlias = str
    Verbosity: TypeAlias = str
    ContextSize: TypeAlias = str
    SearchMode: TypeAlias = str
    ConnectionOrigin: TypeAlias = str
else:
    ServiceTier = Literal[facts.SERVICE_TIERS_REQUEST]
    Effort = Literal[facts.REASONING_EFFORTS]
    Summary = Literal[facts.REASONING_SUMMARIES]
    Verbosity = Literal[facts.TEXT_VERBOSITIES]
    _ENUMS = {(v.type, f.name): f.enum for v in facts.TOOL_VARIANTS for f in v.fields if f.enum}
    ContextSize = Literal[_ENUMS["web_search", "context_size"]]
    SearchMode = Literal[_ENUMS["web_search", "mode"]]
    ConnectionOrigin = Literal[_ENUMS["mcp", "connection_origin"]]


JsonSchema = Annotated[dict[str, Any], Field(description="A JSON Schema object.")]


# --- tools (§8)


class FunctionTool(_Strict):
    """`{type: function, name, description, parameters}`: a function the agent may call."""

    type: Literal["function"]
    name: NonEmpty = Field(description="The function's name; unique among the tools.")
    description: str = Field(description="What the function does (required by the API; may be empty).")
    parameters: JsonSchema = Field(description="The function's arguments as a JSON Schema object.")
    defer_loading: bool = Field(default=False, description="Load it only when found through tool_search.")

    _parameters = field_validator("parameters")(json_schema_checked)


class ToolSearchTool(_Strict):
    """`{type: tool_search}`: discovers deferred functions and loads them into the model's context."""

    type: Literal["tool_search"]


class ProgrammaticToolCallingTool(_Strict):
    """`{type: programmatic_tool_calling}`: lets model-generated code call tools."""

    type: Literal["programmatic_tool_calling"]
    enabled: bool = Field(default=True, description="Whether code may call tools.")


class HttpTransport(_Strict):
    """An MCP server reached over HTTP; only non-secret headers (credentials: `credential_id`)."""

    type: Literal["http"]
    server_url: NonEmpty = Field(description="The MCP server's URL.")
    headers: dict[str, str] | None = Field(
        default=None, description="Non-secret HTTP headers (credential-like names are refused)."
    )


class StdioTransport(_Strict):
    """An MCP server started as a process in the session's environment."""

    type: Literal["stdio"]
    command: NonEmpty = Field(description="The command to run.")
    cwd: str = Field(description="Its working directory.")
    args: list[str] | None = Field(default=None, description="Its arguments.")
    env_vars: list[str] | None = Field(
        default=None, description="Names of environment variables to inherit (names, never values)."
    )


Transport = Annotated[HttpTransport | StdioTransport, Field(discriminator="type")]


class McpTool(_Strict):
    """`{type: mcp, server_label, transport, ...}`: the tools of an MCP server."""

    type: Literal["mcp"]
    server_label: NonEmpty = Field(description="Identifies the server in tool calls; unique among the tools.")
    transport: Transport
    allowed_tools: list[str] | None = Field(default=None, description="Allowed server tools (default: all).")
    connection_origin: ConnectionOrigin | None = Field(
        default=None, description="Connect from the agents service network or the session's environment."
    )
    credential_id: NonEmpty | None = Field(
        default=None, description="The vault credential to authenticate with (never the secret itself)."
    )
    request_metadata: dict[str, Any] | None = Field(
        default=None, description="Metadata sent with requests to the server."
    )
    required: bool = Field(default=False, description="The server must initialise before the first turn.")


class WebSearchLocation(_Strict):
    """Approximate user location for web search."""

    city: str | None = None
    country: str | None = Field(default=None, description="Two-letter ISO country code.")
    region: str | None = None
    timezone: str | None = Field(default=None, description="IANA time zone name.")


class WebSearchTool(_Strict):
    """`{type: web_search, ...}`: searches the web."""

    type: Literal["web_search"]
    allowed_domains: list[str] | None = Field(default=None, description="Domains to search (default: any).")
    context_size: ContextSize | None = Field(default=None, description="low, medium (default) or high.")
    location: WebSearchLocation | None = None
    mode: SearchMode | None = Field(default=None, description="disabled, cached or live (default).")


class ComputerUseTool(_Strict):
    """`{type: computer_use}`: browser use in an OpenAI-hosted session."""

    type: Literal["computer_use"]
    include_screenshots: bool = Field(default=False, description="Return screenshots with actions.")


Tool = Annotated[
    FunctionTool | ToolSearchTool | ProgrammaticToolCallingTool | McpTool | WebSearchTool | ComputerUseTool,
    Field(discriminator="type"),
]
TOOL_MODELS: dict[str, type[_Strict]] = {
    "function": FunctionTool,
    "tool_search": ToolSearchTool,
    "programmatic_tool_calling": ProgrammaticToolCallingTool,
    "mcp": McpTool,
    "web_search": WebSearchTool,
    "computer_use": ComputerUseTool,
}
TRANSPORT_MODELS: dict[str, type[_Strict]] = {"http": HttpTransport, "stdio": StdioTransport}

# --- nested settings (§4.2)


class Reasoning(_Strict):
    """Reasoning settings; an omitted or null member is the model's default."""

    effort: Effort | None = None
    summary: Summary | None = None


class TextFormatText(_Strict):
    """Plain text output (the default)."""

    type: Literal["text"]


class TextFormatJsonSchema(_Strict):
    """Output that follows a JSON Schema (no name, strict or description: only `type` and `schema`)."""

    model_config = ConfigDict(populate_by_name=False)

    type: Literal["json_schema"]
    schema_: JsonSchema = Field(alias="schema")

    _schema = field_validator("schema_")(json_schema_checked)


TextFormat = Annotated[TextFormatText | TextFormatJsonSchema, Field(discriminator="type")]


class Text(_Strict):
    """Text output settings."""

    format: TextFormat | None = Field(default=None, description="{type: text} (default) or json_schema.")
    verbosity: Verbosity | None = Field(default=None, description="low, medium (default) or high.")


class MultiAgent(_Strict):
    """Sub-agent tools the agent may use at run time."""

    enabled: bool
    max_concurrent_subagents: int | None = Field(
        default=None,
        ge=facts.MAX_CONCURRENT_SUBAGENTS_RANGE[0],
        le=facts.MAX_CONCURRENT_SUBAGENTS_RANGE[1],
        description=f"At most this many at once (default {facts.MAX_CONCURRENT_SUBAGENTS_DEFAULT}).",
    )


# --- the manifest


class AgentManifest(_Strict):
    """One saved agent's desired state. Omitted (or null) fields converge to the API defaults."""

    model_config = ConfigDict(
        title="reconciler agent manifest",
        json_schema_extra={"description": "One OpenAI saved agent (Agents API), as managed by reconciler."},
    )

    key: str | None = Field(
        default=None,
        pattern=KEY_PATTERN,
        description="Stable logical name of the agent (defaults to the file's stem). Lowercase letters, "
        "digits, '-', '_' and '.', at most 63 characters; unique across the directory.",
    )
    id: str | None = Field(
        default=None,
        min_length=1,
        max_length=facts.AGENT_ID_MAX_LENGTH,
        description="Adopt this existing agent (its id, as `reconciler import --kind agent` writes it) "
        "instead of creating one.",
    )
    name: str | None = Field(default=None, max_length=dialect.MAX_NAME, description="Display name.")
    model: str = Field(
        min_length=1, max_length=dialect.MAX_MODEL, description="Model name, kept as written (e.g. gpt-5)."
    )
    instructions: str | None = Field(
        default=None,
        max_length=dialect.MAX_INSTRUCTIONS,
        description="Custom instructions, appended to the agent's default base instructions. Mutually "
        "exclusive with instructions_file.",
    )
    instructions_file: RelativePath | None = Field(
        default=None,
        description="Read the instructions from this UTF-8 file (relative to the manifest, inside the "
        "repository). Mutually exclusive with instructions.",
    )
    tools: list[Tool] | None = Field(
        default=None,
        description=f"Tools, in order: {', '.join(dialect.TOOL_TYPES)}. At most "
        f"{dialect.MAX_TOOLS_JSON_BYTES:,} bytes as compact JSON.",
    )
    metadata: dict[MetadataKey, MetadataValue] | None = Field(
        default=None,
        max_length=MAX_USER_METADATA_PAIRS,
        description=f"String key-value pairs (at most {MAX_USER_METADATA_PAIRS}: the API allows "
        f"{dialect.MAX_METADATA_PAIRS}; two hold the ownership marker and the drift entry). Keys starting "
        f"with '{dialect.RESERVED_PREFIX}' are reserved.",
    )
    reasoning: Reasoning | None = Field(
        default=None, description="effort and summary; omitted or null: the model's defaults."
    )
    service_tier: ServiceTier | None = Field(
        default=None, description=f"{', '.join(facts.SERVICE_TIERS_REQUEST)} (default auto)."
    )
    text: Text | None = Field(default=None, description="format ({type: text} or json_schema) and verbosity.")
    multi_agent: MultiAgent | None = Field(
        default=None, description="enabled and max_concurrent_subagents: sub-agent tools at run time."
    )

    @field_validator("tools")
    @classmethod
    def _tools(cls, value: list[Any] | None) -> list[Any] | None:
        if value is not None:
            _unique_among(value, "function", "name", "function name")
            _unique_among(value, "mcp", "server_label", "server_label")
        return value

    @model_validator(mode="wrap")
    @classmethod
    def _as_written(cls, data: Any, handler: Any) -> AgentManifest:
        """The rules read on the data as written, once the fields are valid: the tools' size as sent, and
        credentials anywhere."""
        manifest: AgentManifest = handler(data)
        if not isinstance(data, dict):
            return manifest
        tools = [dialect.normalise_tool(tool) for tool in data.get("tools") or ()]
        size = len(json.dumps(tools, separators=(",", ":"), ensure_ascii=False).encode())
        if size > dialect.MAX_TOOLS_JSON_BYTES:
            raise PydanticCustomError(
                "tools_too_large",
                "the tools take {size} bytes as compact JSON (defaults filled in, as sent); at most {limit}",
                {
                    "size": f"{size:,}",
                    "limit": f"{dialect.MAX_TOOLS_JSON_BYTES:,}",
                    "subpath": ("tools",),
                    "at_key": True,
                },
            )
        problem = secrets.first_secret(data)
        if problem is not None:
            path, message, at_key = problem
            raise PydanticCustomError("secret", message, {"subpath": path, "at_key": at_key})
        return manifest

    @model_validator(mode="after")
    def _cross_field(self) -> AgentManifest:
        one_source_of_instructions(self.instructions, self.instructions_file)
        return self


def _unique_among(tools: list[Any], kind: str, field: str, what: str) -> None:
    """Refuse two tools of type `kind` with the same `field`, at the second one."""
    seen: dict[str, int] = {}
    for index, tool in enumerate(tools):
        if tool.type != kind:
            continue
        value = getattr(tool, field)
        if value in seen:
            raise PydanticCustomError(
                "duplicate",
                "duplicate {what} '{value}' (also tools[{first}])",
                {"what": what, "value": value, "first": seen[value], "subpath": (index, field)},
            )
        seen[value] = index


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of one agent manifest document (`reconciler schema --kind agent`)."""
    schema = AgentManifest.model_json_schema(by_alias=True)
    for name, field in ENVIRONMENT_FIELDS.items():
        described = field["description"].replace("this assistant", "this agent")
        schema["properties"][name] = {**field, "description": described}
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


_NESTED_MODELS: dict[tuple[str | int, ...], Any] = {}  # filled below, once the models exist


def field_names_at(path: tuple[str | int, ...], data: Any) -> list[str]:
    """The field names an agent manifest allows at `path` in `data` (for did-you-mean); [] where it names
    none."""
    model = _NESTED_MODELS.get(path)
    if path == ("text", "format"):
        kind = data.get("text", {}).get("format", {}).get("type") if isinstance(data, dict) else None
        model = TextFormatJsonSchema if kind == "json_schema" else TextFormatText
    elif model is None and path[:1] == ("tools",) and len(path) in (2, 3):
        model = _tool_model_at(path, data)
    if model is None:
        return []
    return [info.alias or name for name, info in model.model_fields.items()]


def _tool_model_at(path: tuple[str | int, ...], data: Any) -> Any:
    try:
        tool = data["tools"][path[1]]
        if len(path) == 2:
            return TOOL_MODELS.get(tool.get("type"))
        if path[2] == "transport" and len(path) == 3:
            return TRANSPORT_MODELS.get(tool["transport"].get("type"))
        if path[2] == "location" and len(path) == 3:
            return WebSearchLocation
    except (AttributeError, IndexError, KeyError, TypeError):
        pass
    return None


_NESTED_MODELS.update(
    {(): AgentManifest, ("reasoning",): Reasoning, ("text",): Text, ("multi_agent",): MultiAgent}
)
