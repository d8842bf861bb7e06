"""The API objects the tool reads (existing assistants, saved agents and files), as small frozen values.

They are made once, at the client boundary: a `Client` method checks each answer against its shape
(`reconciler.client.shapes`) and then builds one of these from it with `from_checked`, so the rest of the
tool reads typed attributes (`a.id`, `a.metadata`) and never indexes raw JSON. This module is plain data: the
planner and the saved-plan checks use it without depending on the client.

A field the server leaves out, or sends as null, is None (lists: empty tuples; `metadata`: an empty dict).
The normal form and its defaults stay in `reconciler.dialect`. Unknown fields are dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["Remote", "RemoteAgent", "RemoteAssistant", "RemoteFile"]


class Remote(Protocol):
    """What the engine reads of an existing managed object of any kind (`RemoteAssistant`, `RemoteAgent`)."""

    @property
    def id(self) -> str: ...

    @property
    def created_at(self) -> int | None: ...

    @property
    def name(self) -> str | None: ...

    @property
    def metadata(self) -> Mapping[str, str]: ...


@dataclass(frozen=True, slots=True)
class RemoteAssistant:
    """An existing v1 `assistant` object."""

    id: str
    created_at: int | None = None
    name: str | None = None
    description: str | None = None
    model: str | None = None
    instructions: str | None = None
    tools: tuple[Mapping[str, Any], ...] = ()
    file_ids: tuple[str, ...] = ()
    metadata: Mapping[str, str] = field(default_factory=dict)
    temperature: float | None = None
    top_p: float | None = None
    response_format: str | Mapping[str, Any] | None = None

    @classmethod
    def from_checked(cls, value: Mapping[str, Any]) -> RemoteAssistant:
        """The assistant a JSON object describes, the object already checked against the assistant shape."""
        get = value.get
        return cls(
            id=value["id"],
            created_at=get("created_at"),
            name=get("name"),
            description=get("description"),
            model=get("model"),
            instructions=get("instructions"),
            tools=tuple(get("tools") or ()),
            file_ids=tuple(get("file_ids") or ()),
            metadata=dict(get("metadata") or {}),
            temperature=get("temperature"),
            top_p=get("top_p"),
            response_format=get("response_format"),
        )


@dataclass(frozen=True, slots=True)
class RemoteAgent:
    """An existing saved `agent` object (`/v1/agents`; docs/agents-api.md §5)."""

    id: str
    created_at: int | None = None
    name: str | None = None
    model: str | None = None
    instructions: str | None = None
    tools: tuple[Mapping[str, Any], ...] = ()
    metadata: Mapping[str, str] = field(default_factory=dict)
    reasoning: Mapping[str, Any] | None = None
    service_tier: str | None = None
    text: Mapping[str, Any] | None = None
    multi_agent: Mapping[str, Any] | None = None

    @classmethod
    def from_checked(cls, value: Mapping[str, Any]) -> RemoteAgent:
        """The agent a JSON object describes, the object already checked against the agent shape."""
        get = value.get
        return cls(
            id=value["id"],
            created_at=get("created_at"),
            name=get("name"),
            model=get("model"),
            instructions=get("instructions"),
            tools=tuple(get("tools") or ()),
            metadata=dict(get("metadata") or {}),
            reasoning=get("reasoning"),
            service_tier=get("service_tier"),
            text=get("text"),
            multi_agent=get("multi_agent"),
        )


@dataclass(frozen=True, slots=True)
class RemoteFile:
    """An existing `file` object (`status` is absent from some servers' answers: None)."""

    id: str
    filename: str | None = None
    bytes: int | None = None
    purpose: str | None = None
    created_at: int | None = None
    status: str | None = None

    @classmethod
    def from_checked(cls, value: Mapping[str, Any]) -> RemoteFile:
        """The file a JSON object describes, the object already checked against the file shape."""
        get = value.get
        return cls(
            id=value["id"],
            filename=get("filename"),
            bytes=get("bytes"),
            purpose=get("purpose"),
            created_at=get("created_at"),
            status=get("status"),
        )
