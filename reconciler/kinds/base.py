"""The seam: one `Kind` value per kind of managed object (Assistants v1, saved agents), and everything the
engine needs to know about it.

The planner, the executor, the saved plan, the renderers and the client take a `Kind` instead of importing a
dialect: its names (`assistant`, `assistants`), its manifest directory, its API collection (path and beta
header), its dialect functions (normal form, desired state, changed fields, request bodies, ownership marker,
claim order) and how its fields are shown. Adding a kind is one dialect module, one `Kind` built from it
(`kinds/<name>.py`), its entry in `reconciler.kinds.KINDS`, and its emulator part (docs/design.md, "Kinds").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from reconciler.drift import Scheme

#: The typed value of one existing object of a kind (`reconciler.remote`: RemoteAssistant, RemoteAgent).
R = TypeVar("R")

#: The dialect functions' types; an object is a plain dict (a desired state, an API answer) or a typed one.
Normalise = Callable[[Any], dict[str, Any]]
DesiredState = Callable[[Mapping[str, Any], str], dict[str, Any]]
ChangedFields = Callable[[Mapping[str, Any], Mapping[str, Any]], list[str]]
CreateBody = Callable[[Mapping[str, Any]], dict[str, Any]]
UpdateBody = Callable[[Mapping[str, Any], list[str] | tuple[str, ...]], dict[str, Any]]


@dataclass(frozen=True, eq=False)
class Kind(Generic[R]):
    """One kind of managed object, whose existing objects the client returns as `R`. Immutable; compared by
    identity (there is one value per kind). The dialect functions take an `R` or a plain dict (a desired
    state)."""

    #: The singular word in messages and plans (`assistant "hr-helper" will be created`).
    name: str
    #: The plural word (`2 unmanaged assistants`).
    plural: str
    #: The section heading of a plan covering several kinds (`Assistants`, `Saved agents`).
    title: str
    #: The default manifest directory, relative to the repository root.
    directory: str
    #: The API collection path (`/assistants`); one object is `{path}/{{{id_param}}}`.
    path: str
    #: The path parameter naming one object in route templates (`assistant_id`).
    id_param: str
    #: The `OpenAI-Beta` header every call on `path` carries.
    beta_header: tuple[str, str]
    #: The `object` of a deletion answer (`assistant.deleted`).
    deleted_object: str
    #: The fields a manifest manages, in the order people write and read them (a normal form's keys).
    fields: tuple[str, ...]
    #: API defaults: an omitted manifest field, or a field the server does not return, counts as this.
    defaults: Mapping[str, Any]
    #: Fields sent whole on update when any part changes.
    whole_fields: tuple[str, ...]
    #: The metadata key of the ownership marker.
    marker_key: str
    #: The most metadata pairs an object holds (the marker included).
    max_metadata_pairs: int
    #: Whether manifests of this kind have knowledge files (`files:`, `file_ids`).
    has_files: bool
    #: Fields rendered as text blocks (a unified line diff when they change).
    text_fields: tuple[str, ...]
    #: How what was applied is recorded on the object (`reconciler.drift`), or None: drift not recorded.
    drift: Scheme | None
    #: Builds the typed value of an API object already checked against the kind's shape.
    remote: Callable[[Mapping[str, Any]], R]
    marker_of: Callable[[Any], str | None]
    claim_order: Callable[[Any], tuple[int, str]]
    normalise: Normalise
    desired_state: DesiredState
    changed_fields: ChangedFields
    create_body: CreateBody
    update_body: UpdateBody

    def __repr__(self) -> str:
        return f"<Kind {self.name}>"

    @property
    def item_route(self) -> str:
        """The route template of one object: `/assistants/{assistant_id}`."""
        return f"{self.path}/{{{self.id_param}}}"

    def noun(self, count: int) -> str:
        """`assistant` or `assistants`, as `count` asks."""
        return self.name if count == 1 else self.plural
