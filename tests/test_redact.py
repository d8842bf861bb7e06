"""One masking for the CLI and the client: every form of the key, and nothing else."""

from __future__ import annotations

import io

import pytest

from reconciler import cli_group, redact

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
    assert cli_group.scrub is redact.scrub


def test_a_servers_partial_echo_is_masked_and_other_stars_kept() -> None:
    key = "sk-wrong-key-0012345"
    echo = "Incorrect API key provided: sk-wrong********2345. Or sk-wro***45, not a *** b**c."
    assert redact.mask(echo, key) == "Incorrect API key provided: ***. Or ***, not a *** b**c."


def test_url_shown_hides_credentials_query_and_fragment() -> None:
    assert redact.url_shown("http://u:p@h/v1?api_key=k#f") == "http://***@h/v1?***"
    assert redact.url_shown("https://h/v1") == "https://h/v1"


def test_the_output_layer_masks_whole_lines_and_escapes_all_but_colours(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    target = io.StringIO()
    stream = redact.MaskedStream(target)
    stream.write(f"a {KEY[:10]}")
    stream.write(f"{KEY[10:]} \x1b[31m\x1b[1mred\x1b[0m \x1b[8mhidden\x1b]0;t\x07 \u202e\n")
    stream.write("prompt? ")
    assert target.getvalue() == "a *** \x1b[31m\x1b[1mred\x1b[0m \\u001b[8mhidden\\u001b]0;t\\u0007 \\u202e\n"
    stream.flush()
    assert target.getvalue().endswith("\nprompt? ")
