"""One masking for the CLI and the client: every form of the key, and nothing else."""

from __future__ import annotations

import pytest

from reconciler import cli, redact

KEY = "sk-redact-0123456789abcdef"


def test_mask_covers_every_form_the_key_can_take() -> None:
    key = f" {KEY}\tsk-second-piece-abcdefgh\n"
    text = f"as set {key!r}; sent {KEY}; escaped {key.strip().encode()!r}; piece sk-second-piece-abcdefgh"
    masked = redact.mask(text, key)
    assert KEY not in masked and "sk-second-piece-abcdefgh" not in masked
    assert masked.startswith("as set ") and "; sent ***; " in masked


@pytest.mark.parametrize("key", [None, "", "abc"])
def test_no_key_or_a_trivially_short_one_changes_nothing(key: str | None) -> None:
    assert redact.mask("abc def", key) == "abc def"


def test_scrub_reads_the_environment_and_the_cli_uses_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    assert redact.scrub(f"Bearer {KEY}") == "Bearer ***"
    assert cli.scrub is redact.scrub
