"""identity: matching manifests to managed assistants, adoption by id, and the errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from plan_support import assistant, load

from reconciler import identity
from reconciler.errors import PlanError


def test_matches_by_marker_and_counts(tmp_path: Path) -> None:
    loaded = load(tmp_path, {"hr": "model: gpt-4\n", "new": "model: gpt-4\n"})
    hr = assistant("hr")
    orphan = assistant("gone")
    other = assistant(name="Someone else's")
    matching = identity.match(loaded, [hr, orphan, other])
    by_key = {m.loaded.key: m for m in matching.matches}
    assert by_key["hr"].existing is hr and not by_key["hr"].adopt
    assert by_key["new"].existing is None
    assert matching.orphans == (orphan,)
    assert matching.managed == 2
    assert matching.unmanaged == (other,)


def test_adopts_an_unmanaged_assistant_by_id(tmp_path: Path) -> None:
    legacy = assistant(id="asst_legacy", name="Legacy")
    loaded = load(tmp_path, {"legacy": "id: asst_legacy\nmodel: gpt-4\n"})
    (m,) = identity.match(loaded, [legacy]).matches
    assert m.existing is legacy and m.adopt


def test_id_of_an_assistant_already_managed_under_the_same_key_is_no_adoption(tmp_path: Path) -> None:
    mine = assistant("legacy", id="asst_legacy")
    loaded = load(tmp_path, {"legacy": "id: asst_legacy\nmodel: gpt-4\n"})
    (m,) = identity.match(loaded, [mine]).matches
    assert m.existing is mine and not m.adopt


def test_two_assistants_claiming_one_key_keep_the_oldest(tmp_path: Path) -> None:
    """The canonical claimant is the minimum by (created_at, id): older first, the smaller id on a tie."""
    loaded = load(tmp_path, {"hr": "model: gpt-4\n"})
    newer = assistant("hr", id="asst_a", created_at=1_700_000_005)
    tie_b = assistant("hr", id="asst_c")
    tie_a = assistant("hr", id="asst_b")
    matching = identity.match(loaded, [newer, tie_b, tie_a])
    (m,) = matching.matches
    assert m.existing is tie_a
    assert [(d.key, d.assistant.id, d.kept) for d in matching.duplicates] == [
        ("hr", "asst_c", "asst_b"),
        ("hr", "asst_a", "asst_b"),
    ]
    assert matching.managed == 3


def test_two_orphans_claiming_one_key(tmp_path: Path) -> None:
    x, y = assistant("old", id="asst_x"), assistant("old", id="asst_y")
    matching = identity.match([], [y, x])
    assert matching.orphans == (x,)
    assert [(d.assistant.id, d.kept) for d in matching.duplicates] == [("asst_y", "asst_x")]


def test_id_naming_a_duplicate(tmp_path: Path) -> None:
    loaded = load(tmp_path, {"hr": "id: asst_y\nmodel: gpt-4\n"})
    with pytest.raises(PlanError) as err:
        identity.match(loaded, [assistant("hr", id="asst_x"), assistant("hr", id="asst_y")])
    assert str(err.value) == (
        f"{tmp_path / 'hr.yaml'}:1:1: id: assistant asst_y is a duplicate of key 'hr' "
        "(keeping asst_x, the oldest)"
    )


def test_unknown_id(tmp_path: Path) -> None:
    loaded = load(tmp_path, {"legacy": "model: gpt-4\nid: asst_nope\n"})
    with pytest.raises(PlanError) as err:
        identity.match(loaded, [assistant()])
    where = f"{tmp_path / 'legacy.yaml'}:2:1"
    assert str(err.value) == f"{where}: id: assistant asst_nope does not exist on this server"


def test_id_managed_under_another_key(tmp_path: Path) -> None:
    loaded = load(tmp_path, {"legacy": "id: asst_x\nmodel: gpt-4\n"})
    with pytest.raises(PlanError) as err:
        identity.match(loaded, [assistant("other", id="asst_x")])
    assert str(err.value) == (
        f"{tmp_path / 'legacy.yaml'}:1:1: id: assistant asst_x is managed under key 'other', not 'legacy'"
    )


def test_id_while_the_key_is_managed_by_another_assistant(tmp_path: Path) -> None:
    loaded = load(tmp_path, {"hr": "id: asst_x\nmodel: gpt-4\n"})
    with pytest.raises(PlanError) as err:
        identity.match(loaded, [assistant(id="asst_x"), assistant("hr", id="asst_y")])
    assert str(err.value) == (
        f"{tmp_path / 'hr.yaml'}:1:1: id: key 'hr' is already managed by asst_y, but id: names asst_x"
    )


def test_one_id_adopted_twice(tmp_path: Path) -> None:
    # The loader refuses this within one directory; identity still guards against it.
    loaded = load(tmp_path / "1", {"a": "id: asst_x\nmodel: gpt-4\n"})
    loaded += load(tmp_path / "2", {"b": "id: asst_x\nmodel: gpt-4\n"})
    with pytest.raises(PlanError) as err:
        identity.match(loaded, [assistant(id="asst_x")])
    assert str(err.value) == (
        f"{tmp_path / '2' / 'b.yaml'}:1:1: id: asst_x is also adopted by {tmp_path / '1' / 'a.yaml'}:1"
    )


def test_every_problem_is_one_line(tmp_path: Path) -> None:
    loaded = load(tmp_path, {"a": "id: asst_1\nmodel: gpt-4\n", "b": "id: asst_2\nmodel: gpt-4\n"})
    with pytest.raises(PlanError) as err:
        identity.match(loaded, [])
    assert len(str(err.value).splitlines()) == 2
