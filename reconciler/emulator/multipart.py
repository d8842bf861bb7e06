"""A small `multipart/form-data` parser (stdlib only), for `POST /v1/files`.

Starlette's own form parsing needs the optional `python-multipart` package; this keeps the emulator's
dependencies to those of the project. It parses a whole buffered body (RFC 7578).
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import Message


class MultipartError(ValueError):
    """The body is not valid multipart/form-data."""


@dataclass(frozen=True)
class Part:
    """One form field: `filename` is None for plain fields."""

    name: str
    filename: str | None
    content_type: str | None
    data: bytes

    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")


def boundary_of(content_type: str) -> str | None:
    """The boundary of a `multipart/form-data` Content-Type header, or None if it is not one."""
    msg = Message()
    msg["content-type"] = content_type
    if msg.get_content_type() != "multipart/form-data":
        return None
    boundary = msg.get_param("boundary")
    return boundary if isinstance(boundary, str) and boundary else None


def parse(body: bytes, boundary: str) -> list[Part]:
    """Split a multipart body into its parts. Raises MultipartError."""
    delimiter = b"\r\n--" + boundary.encode("latin-1")
    chunks = (b"\r\n" + body).split(delimiter)
    if len(chunks) < 2:
        raise MultipartError("no multipart boundary found in the body")
    parts: list[Part] = []
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            return parts
        if not chunk.startswith(b"\r\n"):
            raise MultipartError("malformed multipart delimiter")
        head, sep, data = chunk[2:].partition(b"\r\n\r\n")
        if not sep:
            raise MultipartError("multipart part without a header/body separator")
        headers = Message()
        for line in head.decode("utf-8", errors="replace").split("\r\n"):
            key, colon, value = line.partition(":")
            if colon:
                headers[key.strip()] = value.strip()
        if headers.get_content_disposition() != "form-data":
            raise MultipartError("multipart part without Content-Disposition: form-data")
        field = headers.get_param("name", header="content-disposition")
        if not isinstance(field, str):
            raise MultipartError("multipart part without a name")
        parts.append(Part(field, headers.get_filename(), headers.get("content-type"), data))
    raise MultipartError("multipart body without a closing boundary")
