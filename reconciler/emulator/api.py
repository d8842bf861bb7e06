"""The `/v1` handlers: assistants, assistant files, files and models (docs/api-v1.md).

Each handler validates its request (`reconciler.emulator.validation`), calls the store and answers the API
object; every problem is raised as `ApiError`, which the app renders as the error body.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from reconciler import dialect
from reconciler.emulator.bodies import is_multipart_form, json_body, read_form
from reconciler.emulator.pages import CursorNotFound
from reconciler.emulator.responses import encoded, json_response
from reconciler.emulator.state import Emulator
from reconciler.emulator.store import FileProblem, FilesNotFound, Store, TooManyFiles
from reconciler.emulator.validation import (
    ApiError,
    bad,
    invalid_value,
    missing_parameter,
    unknown_parameter,
    validate_assistant_body,
    validate_assistant_file_body,
    validate_list_params,
)

FILE_PURPOSES = ("fine-tune", "assistants")


def emulator_of(request: Request) -> Emulator:
    emulator: Emulator = request.app.state.emulator
    return emulator


def no_assistant(assistant_id: str) -> ApiError:
    return ApiError(404, f"No assistant found with id '{assistant_id}'.")


def path_id(request: Request, param: str) -> tuple[Store, str]:
    """The store and the object id in the path parameter `param`."""
    return emulator_of(request).store, request.path_params[param]


def found(obj: dict[str, Any] | str | None, missing: ApiError) -> Response:
    """The answer `obj`, an object or its JSON text (as the store keeps assistants); raises `missing` (a 404)
    when there is no such object (None)."""
    if obj is None:
        raise missing
    return encoded(obj) if isinstance(obj, str) else json_response(obj)


def existing_assistant(request: Request) -> tuple[Store, str]:
    """The store and the path's `assistant_id`; 404 when there is no such (live) assistant."""
    store, assistant_id = path_id(request, "assistant_id")
    if not store.assistant_exists(assistant_id):
        raise no_assistant(assistant_id)
    return store, assistant_id


def deleted(object_id: str, object_type: str, done: bool, missing: ApiError) -> Response:
    """The deletion status a DELETE answers with; raises `missing` (a 404) when nothing was deleted."""
    if not done:
        raise missing
    return json_response({"id": object_id, "object": object_type, "deleted": True})


def no_file(file_id: str) -> ApiError:
    return ApiError(404, f"No such File object: {file_id}", param="id")


@contextmanager
def file_errors(param: str) -> Iterator[None]:
    """Turn the store's file exceptions into the API's errors, naming `param`."""
    try:
        yield
    except FilesNotFound as err:
        raise bad(f"Files [{', '.join(err.file_ids)}] were not found", param=param) from None
    except FileProblem as err:
        raise file_problem(err, param) from None


def usable_files(assistant: dict[str, Any], filenames: list[str]) -> None:
    """The store's check on a written assistant: its files need a file tool that can read them."""
    message = dialect.v1_file_refusal([tool["type"] for tool in assistant["tools"]], filenames)
    if message is not None:
        code = None if message == dialect.FILE_IDS_NEED_A_TOOL else "unsupported_file"
        raise bad(message, param="file_ids", code=code)


def file_problem(err: FileProblem, param: str) -> ApiError:
    if err.index is not None:
        param = f"{param}[{err.index}]"
    return bad(
        f"File '{err.file_id}' has purpose '{err.purpose}'; only files with purpose 'assistants' can be "
        "attached to an assistant.",
        param=param,
        code="invalid_value",
    )


def cursor_problem(err: CursorNotFound, kind: str) -> ApiError:
    return bad(f"Invalid '{err.param}': no {kind} found with id '{err.cursor}'.", param=err.param)


# -- /v1/assistants ------------------------------------------------------------------------------------


async def list_assistants(request: Request) -> Response:
    query = validate_list_params(request.query_params)
    try:
        page = emulator_of(request).store.list_assistants(query)
    except CursorNotFound as err:
        raise cursor_problem(err, "assistant") from None
    return encoded(page.body())


async def create_assistant(request: Request) -> Response:
    fields, file_ids = validate_assistant_body(await json_body(request), create=True)
    with file_errors("file_ids"):
        assistant = emulator_of(request).store.create_assistant(fields, file_ids or [], usable_files)
    return encoded(assistant)


async def get_assistant(request: Request) -> Response:
    store, assistant_id = path_id(request, "assistant_id")
    return found(store.get_assistant(assistant_id), no_assistant(assistant_id))


async def modify_assistant(request: Request) -> Response:
    store, assistant_id = existing_assistant(request)
    fields, file_ids = validate_assistant_body(await json_body(request), create=False)
    with file_errors("file_ids"):
        assistant = store.update_assistant(assistant_id, fields, file_ids, usable_files)
    return found(assistant, no_assistant(assistant_id))


async def delete_assistant(request: Request) -> Response:
    store, assistant_id = path_id(request, "assistant_id")
    done = store.delete_assistant(assistant_id)
    return deleted(assistant_id, "assistant.deleted", done, no_assistant(assistant_id))


async def list_assistant_files(request: Request) -> Response:
    query = validate_list_params(request.query_params)
    store, assistant_id = existing_assistant(request)
    try:
        page = store.list_assistant_files(assistant_id, query)
    except CursorNotFound as err:
        raise cursor_problem(err, "assistant file") from None
    return encoded(page.body())


async def create_assistant_file(request: Request) -> Response:
    store, assistant_id = existing_assistant(request)
    file_id = validate_assistant_file_body(await json_body(request))
    try:
        with file_errors("file_id"):
            association = store.attach_file(assistant_id, file_id, dialect.MAX_FILE_IDS, usable_files)
    except TooManyFiles:
        raise bad(
            f"Invalid 'file_ids': array too long. Expected an array with maximum length "
            f"{dialect.MAX_FILE_IDS}, but got an array with length {dialect.MAX_FILE_IDS + 1} instead.",
            param="file_id",
            code="array_above_max_length",
        ) from None
    return found(association, no_assistant(assistant_id))


def _no_assistant_file(file_id: str, assistant_id: str) -> ApiError:
    return ApiError(404, f"No assistant file found with id '{file_id}'.")


async def get_assistant_file(request: Request) -> Response:
    store, assistant_id = existing_assistant(request)
    file_id = request.path_params["file_id"]
    return found(store.get_assistant_file(assistant_id, file_id), _no_assistant_file(file_id, assistant_id))


async def delete_assistant_file(request: Request) -> Response:
    store, assistant_id = existing_assistant(request)
    file_id = request.path_params["file_id"]
    done = store.detach_file(assistant_id, file_id)
    return deleted(file_id, "assistant.file.deleted", done, _no_assistant_file(file_id, assistant_id))


# -- /v1/files -----------------------------------------------------------------------------------------


async def list_files(request: Request) -> Response:
    purpose = request.query_params.get("purpose")
    files = emulator_of(request).store.list_files(purpose)
    return json_response({"object": "list", "data": files})


async def create_file(request: Request) -> Response:
    content_type = request.headers.get("content-type", "")
    if not is_multipart_form(content_type):
        raise bad(
            f"Invalid Content-Type header ({content_type or 'none'}), expected multipart/form-data.",
            code="invalid_content_type",
        )
    form = await read_form(request)
    try:
        fields: dict[str, str | UploadFile] = {}
        for name, value in form.multi_items():
            if name not in ("file", "purpose"):
                raise unknown_parameter(name)
            fields.setdefault(name, value)
        if "file" not in fields:
            raise missing_parameter("file")
        if "purpose" not in fields:
            raise missing_parameter("purpose")
        purpose = fields["purpose"]
        if isinstance(purpose, UploadFile):  # sent as a file part: its content is the value
            purpose = (await purpose.read()).decode("utf-8", errors="replace")
        if purpose not in FILE_PURPOSES:
            raise invalid_value("purpose", purpose, FILE_PURPOSES)
        upload = fields["file"]
        if not isinstance(upload, UploadFile):
            raise bad("Invalid 'file': expected a file upload, but got a plain form field.", param="file")
        size = upload.size or 0
        if size > dialect.MAX_FILE_BYTES:
            raise bad(
                f"File is too large ({size} bytes); the maximum is {dialect.MAX_FILE_BYTES} bytes.",
                param="file",
            )
        content = await upload.read()
    finally:
        await form.close()
    file = emulator_of(request).store.create_file(
        filename=upload.filename or "upload", purpose=purpose, content=content
    )
    return json_response(file)


async def get_file(request: Request) -> Response:
    store, file_id = path_id(request, "file_id")
    return found(store.get_file(file_id), no_file(file_id))


async def delete_file(request: Request) -> Response:
    store, file_id = path_id(request, "file_id")
    return deleted(file_id, "file", store.delete_file(file_id), no_file(file_id))


async def file_content(request: Request) -> Response:
    store, file_id = path_id(request, "file_id")
    content = store.file_content(file_id)
    if content is None:
        raise no_file(file_id)
    return Response(content, media_type="application/octet-stream")


# -- /v1/models ----------------------------------------------------------------------------------------


#: The account's models by id: `/v1/models` lists them all, each with its own `created` and `owned_by`.
MODELS = {
    model: {"id": model, "object": "model", "created": created, "owned_by": owner}
    for model, created, owner in dialect.V1_ACCOUNT_MODELS
}


async def list_models(request: Request) -> Response:
    return json_response({"object": "list", "data": list(MODELS.values())})


async def get_model(request: Request) -> Response:
    model = request.path_params["model"]
    if model not in MODELS:
        raise ApiError(404, f"The model '{model}' does not exist", param="model", code="model_not_found")
    return json_response(MODELS[model])
