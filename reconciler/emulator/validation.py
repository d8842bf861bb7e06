"""Request validation with the real v1 API's error shapes and messages (docs/api-v1.md §4, §7).

Every problem raises `ApiError`, rendered as `{"error": {"message", "type", "param", "code"}}`. The first
problem found wins, checked in body order. Messages follow OpenAI's generic validator, e.g.
`Invalid 'name': string too long. Expected a string with maximum length 256, but got a string with length 300
instead.` The assistant fields, their defaults and the limits come from `reconciler.dialect`.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Mapping
from typing import Any

from reconciler import dialect
from reconciler.emulator.pages import PageQuery


class ApiError(Exception):
    """An API error response."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


def bad(message: str, *, param: str | None = None, code: str | None = None) -> ApiError:
    """A 400 `invalid_request_error`."""
    return ApiError(400, message, param=param, code=code)


INVALID_JSON = (
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP "
    "library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you "
    "have trouble figuring out how to fix this, please contact us through our help center at "
    "help.openai.com.)"
)

TYPE_NAMES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean",
    "array": "an array",
    "object": "an object",
}


def json_type(value: Any) -> str:
    """The JSON type name of a decoded value: `string`, `integer`, `number`, `boolean`, `array`, `object`,
    `null`."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _article(kind: str) -> str:
    return TYPE_NAMES.get(kind, kind)


def invalid_type(param: str, expected: str, value: Any) -> ApiError:
    got = json_type(value)
    got_text = "null" if got == "null" else _article(got)
    return bad(
        f"Invalid type for '{param}': expected {expected}, but got {got_text} instead.",
        param=param,
        code="invalid_type",
    )


def invalid_value(param: str, value: Any, supported: tuple[str, ...]) -> ApiError:
    quoted = [f"'{s}'" for s in supported]
    listing = (
        quoted[0]
        if len(quoted) == 1
        else ", ".join(quoted[:-1]) + (f", and {quoted[-1]}" if len(quoted) > 2 else f" and {quoted[-1]}")
    )
    return bad(
        f"Invalid value: '{value}'. Supported values are: {listing}.", param=param, code="invalid_value"
    )


def unknown_parameter(param: str) -> ApiError:
    return bad(f"Unknown parameter: '{param}'.", param=param, code="unknown_parameter")


def missing_parameter(param: str) -> ApiError:
    return bad(f"Missing required parameter: '{param}'.", param=param, code="missing_required_parameter")


def check_string(
    param: str, value: Any, *, max_length: int | None = None, nullable: bool = False
) -> str | None:
    if value is None and nullable:
        return None
    if not isinstance(value, str):
        return _raise(invalid_type(param, "a string", value))
    if max_length is not None and len(value) > max_length:
        raise bad(
            f"Invalid '{param}': string too long. Expected a string with maximum length {max_length}, "
            f"but got a string with length {len(value)} instead.",
            param=param,
            code="string_above_max_length",
        )
    return value


def _number(param: str, value: Any, bounds: tuple[float, float], *, nullable: bool) -> float | None:
    if value is None and nullable:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return _raise(invalid_type(param, "a number", value))
    low, high = bounds
    if value > high:
        raise bad(
            f"Invalid '{param}': decimal above maximum value. Expected a value <= {_num(high)}, "
            f"but got {_num(value)} instead.",
            param=param,
            code="decimal_above_max_value",
        )
    if value < low:
        raise bad(
            f"Invalid '{param}': decimal below minimum value. Expected a value >= {_num(low)}, "
            f"but got {_num(value)} instead.",
            param=param,
            code="decimal_below_min_value",
        )
    return float(value)


def check_integer_range(param: str, value: int, bounds: tuple[int, int]) -> int:
    """`value` when `low <= value <= high`, else the generic validator's 400."""
    low, high = bounds
    if value > high:
        raise bad(
            f"Invalid '{param}': integer above maximum value. Expected a value <= {high}, "
            f"but got {value} instead.",
            param=param,
            code="integer_above_max_value",
        )
    if value < low:
        raise bad(
            f"Invalid '{param}': integer below minimum value. Expected a value >= {low}, "
            f"but got {value} instead.",
            param=param,
            code="integer_below_min_value",
        )
    return value


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _raise(err: ApiError) -> Any:
    raise err


def _array(param: str, value: Any, max_items: int) -> list[Any]:
    if not isinstance(value, list):
        return _raise(invalid_type(param, "an array", value))
    if len(value) > max_items:
        raise bad(
            f"Invalid '{param}': array too long. Expected an array with maximum length {max_items}, "
            f"but got an array with length {len(value)} instead.",
            param=param,
            code="array_above_max_length",
        )
    return value


def _check_keys(prefix: str, obj: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    for key in obj:
        if key not in allowed:
            raise unknown_parameter(f"{prefix}{key}")


def validate_tools(value: Any) -> list[dict[str, Any]]:
    """`tools`: ≤128 of code_interpreter / retrieval / function (with a valid FunctionObject)."""
    tools = _array("tools", value, dialect.MAX_TOOLS)
    out: list[dict[str, Any]] = []
    for i, tool in enumerate(tools):
        param = f"tools[{i}]"
        if not isinstance(tool, dict):
            raise invalid_type(param, "an object", tool)
        if "type" not in tool:
            raise missing_parameter(f"{param}.type")
        kind = tool["type"]
        if not isinstance(kind, str):
            raise invalid_type(f"{param}.type", "a string", kind)
        if kind not in dialect.TOOL_TYPES:
            raise invalid_value(f"{param}.type", kind, dialect.TOOL_TYPES)
        if kind != "function":
            _check_keys(f"{param}.", tool, ("type",))
            out.append({"type": kind})
            continue
        _check_keys(f"{param}.", tool, ("type", "function"))
        if "function" not in tool:
            raise missing_parameter(f"{param}.function")
        out.append({"type": "function", "function": _function(f"{param}.function", tool["function"])})
    return out


def _function(param: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise invalid_type(param, "an object", value)
    _check_keys(f"{param}.", value, ("name", "description", "parameters"))
    if "name" not in value:
        raise missing_parameter(f"{param}.name")
    name = check_string(f"{param}.name", value["name"], max_length=dialect.MAX_FUNCTION_NAME)
    if name is None or not re.fullmatch(dialect.FUNCTION_NAME_PATTERN, name):
        raise bad(
            f"Invalid '{param}.name': string does not match pattern. Expected a string that matches the "
            f"pattern '{dialect.FUNCTION_NAME_PATTERN}'.",
            param=f"{param}.name",
            code="invalid_value",
        )
    out: dict[str, Any] = {"name": name}
    if "description" in value:
        out["description"] = check_string(f"{param}.description", value["description"])
    if "parameters" in value:
        if not isinstance(value["parameters"], dict):
            raise invalid_type(f"{param}.parameters", "an object", value["parameters"])
        out["parameters"] = value["parameters"]
    return out


#: (pairs, key length, value length): the metadata limits, the same for assistants v1 and saved agents.
MetadataLimits = tuple[int, int, int]
V1_METADATA: MetadataLimits = (
    dialect.MAX_METADATA_PAIRS,
    dialect.MAX_METADATA_KEY,
    dialect.MAX_METADATA_VALUE,
)


def validate_metadata(value: Any, limits: MetadataLimits = V1_METADATA) -> dict[str, str]:
    """`metadata`: null (meaning empty) or ≤16 string pairs, keys ≤64 and values ≤512 characters."""
    max_pairs, max_key, max_value = limits
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise invalid_type("metadata", "an object", value)
    if len(value) > max_pairs:
        raise bad(
            f"Invalid 'metadata': too many properties. Expected an object with at most "
            f"{max_pairs} properties, but got an object with {len(value)} properties instead.",
            param="metadata",
            code="object_above_max_properties",
        )
    for key, item in value.items():
        if len(key) > max_key:
            raise bad(
                f"Invalid 'metadata': key too long. Expected a key with maximum length "
                f"{max_key}, but got a key with length {len(key)} instead.",
                param="metadata",
                code="string_above_max_length",
            )
        check_string(f"metadata.{key}", item, max_length=max_value)
    return dict(value)


def validate_response_format(value: Any) -> str | dict[str, str]:
    """`response_format`: null (meaning "auto"), `"none"`/`"auto"`, or `{"type": "text"|"json_object"}`."""
    if value is None:
        return "auto"
    if isinstance(value, str):
        if value not in dialect.RESPONSE_FORMAT_STRINGS:
            raise invalid_value("response_format", value, ("none", "auto"))
        return value
    if isinstance(value, dict):
        _check_keys("response_format.", value, ("type",))
        kind = value.get("type", "text")
        if not isinstance(kind, str):
            raise invalid_type("response_format.type", "a string", kind)
        if kind not in dialect.RESPONSE_FORMAT_TYPES:
            raise invalid_value("response_format.type", kind, dialect.RESPONSE_FORMAT_TYPES)
        return {"type": kind}
    raise invalid_type("response_format", "a string or an object", value)


def validate_model(value: Any) -> str:
    """`model`: a string naming a model v1 accepts (else the refusal of `dialect.v1_model_refusal`)."""
    model = check_string("model", value)
    assert model is not None
    refusal = dialect.v1_model_refusal(model)
    if refusal is not None:
        code, message = refusal
        raise bad(message, param="model", code=code)
    return model


def validate_file_ids(value: Any) -> list[str]:
    """`file_ids`: ≤20 strings; duplicates collapse to their first occurrence."""
    items = _array("file_ids", value, dialect.MAX_FILE_IDS)
    for i, item in enumerate(items):
        check_string(f"file_ids[{i}]", item)
    return list(dict.fromkeys(items))


def validate_assistant_body(body: Any, *, create: bool) -> tuple[dict[str, Any], list[str] | None]:
    """Validate a CreateAssistantRequest (`create=True`) or ModifyAssistantRequest.

    Returns `(fields, file_ids)`: `fields` holds the given fields with nulls resolved (metadata null → {},
    temperature/top_p null → 1.0, response_format null → "auto"); on create every field is present, with
    defaults. `file_ids` is None when not given on modify.
    """
    obj = require_object(body)
    for key in obj:
        if key not in dialect.FIELDS:
            raise unknown_parameter(key)
    if create and "model" not in obj:
        raise missing_parameter("model")
    fields: dict[str, Any] = {}
    file_ids: list[str] | None = None
    for key, value in obj.items():
        if key == "model":
            fields["model"] = validate_model(value)
        elif key == "name":
            fields["name"] = check_string("name", value, max_length=dialect.MAX_NAME, nullable=True)
        elif key == "description":
            fields["description"] = check_string(
                "description", value, max_length=dialect.MAX_DESCRIPTION, nullable=True
            )
        elif key == "instructions":
            fields["instructions"] = check_string(
                "instructions", value, max_length=dialect.MAX_INSTRUCTIONS, nullable=True
            )
        elif key == "tools":
            fields["tools"] = validate_tools(value)
        elif key == "file_ids":
            file_ids = validate_file_ids(value)
        elif key == "metadata":
            fields["metadata"] = validate_metadata(value)
        elif key == "temperature":
            temperature = _number("temperature", value, dialect.TEMPERATURE_RANGE, nullable=True)
            fields["temperature"] = dialect.DEFAULTS["temperature"] if temperature is None else temperature
        elif key == "top_p":
            top_p = _number("top_p", value, dialect.TOP_P_RANGE, nullable=True)
            fields["top_p"] = dialect.DEFAULTS["top_p"] if top_p is None else top_p
        elif key == "response_format":
            fields["response_format"] = validate_response_format(value)
    if create:
        defaults = {k: copy.deepcopy(v) for k, v in dialect.DEFAULTS.items() if k != "file_ids"}
        fields = {**defaults, **fields}
        file_ids = file_ids or []
    return fields, file_ids


def validate_assistant_file_body(body: Any) -> str:
    """CreateAssistantFileRequest: `{"file_id": "..."}` only."""
    obj = require_object(body)
    for key in obj:
        if key != "file_id":
            raise unknown_parameter(key)
    if "file_id" not in obj:
        raise missing_parameter("file_id")
    file_id = check_string("file_id", obj["file_id"])
    assert file_id is not None
    return file_id


def require_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        kind = json_type(body)
        got = "null" if kind == "null" else _article(kind)
        raise bad(
            f"Invalid type for request body: expected an object, but got {got} instead.",
            code="invalid_type",
        )
    return body


def validate_list_params(query: Mapping[str, str]) -> PageQuery:
    """`limit` (integer 1..100, default 20), `order` (`asc`/`desc`, default `desc`), `after`, `before`."""
    limit = 20
    if "limit" in query:
        raw = query["limit"]
        try:
            limit = int(raw.strip())
        except ValueError:
            raise bad(
                f"Invalid type for 'limit': expected an integer, but got a string instead ('{raw}').",
                param="limit",
                code="invalid_type",
            ) from None
        check_integer_range("limit", limit, (1, 100))
    order = query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise invalid_value("order", order, ("asc", "desc"))
    return PageQuery(limit, "asc" if order == "asc" else "desc", query.get("after"), query.get("before"))
