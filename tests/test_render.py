"""Renderers on the same plans: exact text, markdown and JSON for small cases; colour; markdown size limit."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from plan_support import assistant, load

from reconciler.client import RemoteAssistant
from reconciler.options import PlanOptions
from reconciler.plan import Plan
from reconciler.planner import build_plan
from reconciler.render import render_plan
from reconciler.render.markdown import LIMIT, MARKER

MANIFESTS = {
    "new-bot": "name: New bot\nmodel: gpt-4\ntemperature: 0.5\n",
    "hr": "name: HR\nmodel: gpt-4-turbo\ninstructions: |\n  You help HR.\n  Be concise.\n  Cite policy.\n",
    "same": "name: Same\nmodel: gpt-4\n",
}


def existing() -> list[RemoteAssistant]:
    return [
        assistant("hr", id="asst_hr", name="HR", instructions="You help HR.\nBe brief.\nCite policy.\n"),
        assistant("same", id="asst_same", name="Same"),
        assistant("old", id="asst_old", name="Old"),
        assistant(id="asst_theirs", name="Theirs"),
    ]


@pytest.fixture
def plans(tmp_path: Path) -> dict[str, Plan]:
    loaded = load(tmp_path, MANIFESTS)
    return {
        "orphans": build_plan(loaded, existing()),
        "prune": build_plan(loaded, existing(), PlanOptions(prune=True)),
        "none": build_plan(load(tmp_path / "same", {"same": MANIFESTS["same"]}), existing()[1:2]),
    }


def rendered(plan: Plan, fmt: str, *, color: bool = False) -> str:
    out = io.StringIO()
    render_plan(plan, out, fmt, color=color)
    return out.getvalue()


NEW_BOT_TEXT = """\
  # assistant "new-bot" will be created
  + assistant "new-bot" {
      + name        = "New bot"
      + model       = "gpt-4"
      + metadata    = {
          + reconciler_key = "new-bot"
        }
      + temperature = 0.5
        (6 default fields hidden)
    }
"""

HR_TEXT = """\
  # assistant "hr" (asst_hr) will be updated in-place
  ~ assistant "hr" {
      ~ model        = "gpt-4" -> "gpt-4-turbo"
      ~ instructions = <<-EOT
            @@ -1,3 +1,3 @@
            You help HR.
          - Be brief.
          + Be concise.
            Cite policy.
        EOT
        (8 unchanged fields hidden)
    }
"""


def test_text_with_orphans(plans: dict[str, Plan]) -> None:
    assert rendered(plans["orphans"], "text") == (
        "reconciler will perform the following actions:\n\n"
        + NEW_BOT_TEXT
        + "\n"
        + HR_TEXT
        + """
1 managed assistant has no manifest (plan with --prune to destroy):
  "old" (asst_old) "Old"

1 unmanaged assistant left untouched (to manage it: `reconciler import --all`).
Plan: 1 to add, 1 to change, 0 to destroy.
"""
    )


def test_text_with_prune(plans: dict[str, Plan]) -> None:
    assert rendered(plans["prune"], "text") == (
        "reconciler will perform the following actions:\n\n"
        + NEW_BOT_TEXT
        + "\n"
        + HR_TEXT
        + """
  # assistant "old" (asst_old) will be destroyed
  - assistant "old" {
      - name  = "Old"
      - model = "gpt-4"
        (8 other fields hidden)
    }

1 unmanaged assistant left untouched (to manage it: `reconciler import --all`).
Plan: 1 to add, 1 to change, 1 to destroy.
"""
    )


def test_text_without_changes(plans: dict[str, Plan]) -> None:
    assert rendered(plans["none"], "text") == "No changes. Your assistants match the manifests.\n"


def test_text_with_only_orphans_starts_without_a_blank_line(tmp_path: Path) -> None:
    plan = build_plan(load(tmp_path, {"same": MANIFESTS["same"]}), existing()[1:3])
    assert rendered(plan, "text") == (
        '1 managed assistant has no manifest (plan with --prune to destroy):\n  "old" (asst_old) "Old"\n\n'
        "Nothing to apply: every manifest matches; the orphan above is kept.\n"
    )


def test_long_blocks_count_the_lines_left_out(tmp_path: Path) -> None:
    text = "".join(f"  line {i}\n" for i in range(41))
    plan = build_plan(load(tmp_path, {"long": f"model: gpt-4\ninstructions: |-\n{text}"}), [])
    body = rendered(plan, "text")
    assert "          + line 39\n            (1 more line)\n        EOT\n" in body


NEW_BOT_MD = """\
<details><summary>+ assistant "new-bot" will be created</summary>

```diff
+ name        = "New bot"
+ model       = "gpt-4"
+ metadata    = {
+   reconciler_key = "new-bot"
  }
+ temperature = 0.5
  (6 default fields hidden)
```

</details>

<details><summary>~ assistant "hr" (asst_hr) will be updated in-place</summary>

```diff
~ model        = "gpt-4" -> "gpt-4-turbo"
~ instructions = <<-EOT
    @@ -1,3 +1,3 @@
    You help HR.
-   Be brief.
+   Be concise.
    Cite policy.
  EOT
  (8 unchanged fields hidden)
```

</details>

"""


def test_markdown_with_orphans(plans: dict[str, Plan]) -> None:
    assert rendered(plans["orphans"], "markdown") == (
        "<!-- reconciler:plan -->\n**Plan: 1 to add, 1 to change, 0 to destroy.**\n\n"
        + NEW_BOT_MD
        + """\
1 managed assistant has no manifest (plan with `--prune` to destroy):

- `old` (asst_old) `"Old"`

1 unmanaged assistant left untouched (to manage it: `reconciler import --all`).

"""
    )


def test_markdown_with_deletes_has_a_banner(plans: dict[str, Plan]) -> None:
    assert rendered(plans["prune"], "markdown") == (
        """\
<!-- reconciler:plan -->
**Plan: 1 to add, 1 to change, 1 to destroy.**

> [!WARNING]
> This plan **destroys 1 assistant**: `old` (asst_old).

"""
        + NEW_BOT_MD
        + """\
<details><summary>- assistant "old" (asst_old) will be destroyed</summary>

```diff
- name  = "Old"
- model = "gpt-4"
  (8 other fields hidden)
```

</details>

1 unmanaged assistant left untouched (to manage it: `reconciler import --all`).

"""
    )


def test_markdown_without_changes(plans: dict[str, Plan]) -> None:
    assert rendered(plans["none"], "markdown") == (
        "<!-- reconciler:plan -->\n**No changes. Your assistants match the manifests.**\n\n"
    )


def test_json_is_plan_data(plans: dict[str, Plan]) -> None:
    for plan in plans.values():
        text = rendered(plan, "json")
        assert json.loads(text) == plan.data()
        assert text.endswith("}\n") and text.startswith('{\n  "format_version": "1",\n  "changes": [')


def test_json_exact_for_a_small_plan(tmp_path: Path) -> None:
    plan = build_plan(load(tmp_path, {"hr": "model: gpt-4-turbo\n"}), [assistant("hr", id="asst_hr")])
    assert (
        rendered(plan, "json")
        == """\
{
  "format_version": "1",
  "changes": [
    {
      "key": "hr",
      "id": "asst_hr",
      "action": "update",
      "changed_fields": [
        "model"
      ],
      "before": {
        "model": "gpt-4"
      },
      "after": {
        "model": "gpt-4-turbo"
      }
    }
  ],
  "summary": {
    "create": 0,
    "update": 1,
    "delete": 0,
    "no-op": 0
  },
  "unmanaged": 0,
  "managed": 1,
  "orphans": [],
  "warnings": []
}
"""
    )


def test_colour_only_when_asked(plans: dict[str, Plan]) -> None:
    plain = rendered(plans["prune"], "text")
    coloured = rendered(plans["prune"], "text", color=True)
    assert "\x1b[" not in plain
    assert "\x1b[32m+\x1b[0m assistant" in coloured and "\x1b[31m          - Be brief.\x1b[0m" in coloured
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured) == plain
    assert "\x1b[" not in rendered(plans["prune"], "markdown")


def test_adoption_targets_warnings_and_field_details(tmp_path: Path) -> None:
    tool = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}
    existing = [
        assistant(
            id="asst_legacy", name="Legacy", metadata={"team": "ops"}, file_ids=["file-b"], tools=[tool]
        ),
        *(assistant(f"k{i}") for i in range(3)),
    ]
    loaded = load(
        tmp_path,
        {
            "legacy": """\
                id: asst_legacy
                name: Legacy
                model: gpt-4
                file_ids: [file-a]
                metadata: {team: hr}
                tools:
                  - type: code_interpreter
                  - type: function
                    function:
                      name: lookup
                      parameters: {type: object, required: [q]}
                """
        },
    )
    plan = build_plan(loaded, existing, PlanOptions(prune=True, targets=("legacy", "k0", "k1", "k2")))
    assert plan.warnings == ("plan deletes all 3 managed assistants (3/3), --force required",)
    text = rendered(plan, "text")
    assert (
        text.split("\n\n")[1]
        == """\
  # assistant "legacy" (asst_legacy) will be adopted (ownership marker added)
  ~ assistant "legacy" {
      ~ tools    = [
          ~ function "lookup"
              + parameters.required: ["q"]
          + code_interpreter
        ]
      ~ file_ids = [
          - "file-b"
          + "file-a"
        ]
      ~ metadata = {
          ~ team           = "ops" -> "hr"
          + reconciler_key = "legacy"
        }
        (7 unchanged fields hidden)
    }"""
    )
    assert text.endswith(
        "Note: targeted plan: only legacy, k0, k1, k2; other assistants not shown.\n"
        "Warning: plan deletes all 3 managed assistants (3/3), --force required\n"
        "Plan: 0 to add, 1 to change, 3 to destroy.\n"
    )
    markdown = rendered(plan, "markdown")
    assert "> **Note:** targeted plan: only `legacy`, `k0`, `k1`, `k2`.\n" in markdown
    assert "> **Warning:** plan deletes all 3 managed assistants (3/3), --force required\n" in markdown
    assert "> This plan **destroys 3 assistants**: `k0` (" in markdown


def test_long_values_are_elided(tmp_path: Path) -> None:
    long_name = "N" * 200
    plan = build_plan(load(tmp_path, {"x": f"model: gpt-4\ndescription: {long_name}\n"}), [])
    text = rendered(plan, "text")
    assert f'+ description = "{"N" * 98}…" (200 chars)' in text


def _balanced(markdown: str) -> None:
    fences = [line for line in markdown.splitlines() if line.startswith("```")]
    assert len(fences) % 2 == 0
    assert markdown.count("<details>") == markdown.count("</details>")


def test_markdown_truncates_whole_sections_at_the_limit(tmp_path: Path) -> None:
    body = "\n".join(f"  Line {i} of the instructions, long enough to matter." for i in range(60))
    manifests = {f"bot-{i:03d}": f"model: gpt-4\ninstructions: |\n{body}\n" for i in range(60)}
    plan = build_plan(load(tmp_path, manifests), [])
    full = rendered(plan, "text")
    assert len(full) > LIMIT
    markdown = rendered(plan, "markdown")
    assert len(markdown) < LIMIT
    assert markdown.startswith(MARKER + "\n**Plan: 60 to add, 0 to change, 0 to destroy.**\n")
    shown = markdown.count("<details>")
    assert 0 < shown < 60
    assert (
        f"> **Note:** {60 - shown} more assistants not shown: this comment is limited to 65,000" in markdown
    )
    _balanced(markdown)


def test_markdown_shortens_a_single_enormous_section(tmp_path: Path) -> None:
    body = "\n".join(f"  Line {i}: " + "x" * 60 for i in range(3000))
    loaded = load(tmp_path, {"huge": f"model: gpt-4\ninstructions: |\n{body}\n"})
    # An update, whose instructions diff shows every line (a create shows only the first 40).
    plan = build_plan(loaded, [assistant("huge", id="asst_huge", instructions="old")])
    markdown = rendered(plan, "markdown")
    assert len(markdown) < LIMIT
    assert markdown.count("<details>") == 1
    match = re.search(r"_Diff shortened: (\d+) of (\d+) lines shown._\n\n</details>", markdown)
    assert match and 0 < int(match.group(1)) < int(match.group(2))
    _balanced(markdown)


def test_markdown_fence_outlasts_backticks_in_content(tmp_path: Path) -> None:
    plan = build_plan(
        load(tmp_path, {"x": "model: gpt-4\ninstructions: |\n  Use ```json fences```.\n  Always.\n"}), []
    )
    markdown = rendered(plan, "markdown")
    assert "````diff\n" in markdown and "\n````\n" in markdown


@pytest.mark.parametrize(
    ("old", "new", "body"),
    [
        (
            "Line one.\nLine two.",
            "Line one.\nLine two.\n",
            [
                "          - Line two.",
                "            \\ No newline at end of text",
                "          + Line two.",
                "            (whitespace only: newline at the end added)",
            ],
        ),
        (
            "Line one.\nLine two.  \n",
            "Line one.\nLine two.\n",
            [
                "            @@ -1,2 +1,2 @@",
                "            Line one.",
                "          - Line two.  ",
                "          + Line two.",
                "            (whitespace only: trailing spaces changed)",
            ],
        ),
    ],
)
def test_whitespace_only_instruction_changes_are_visible(
    tmp_path: Path, old: str, new: str, body: list[str]
) -> None:
    existing = [assistant("hr", id="asst_hr", instructions=old)]
    manifest = "model: gpt-4\ninstructions: " + json.dumps(new) + "\n"
    text = rendered(build_plan(load(tmp_path, {"hr": manifest}), existing), "text")
    lines = text.splitlines()
    start = lines.index("      ~ instructions = <<-EOT") + 1
    assert lines[start : start + len(body)] == body
    assert lines[start + len(body)] == "        EOT"


def test_function_schema_changes_render_as_paths(tmp_path: Path) -> None:
    def tool(city_type: str, extra: str = "") -> str:
        return (
            "model: gpt-4\ntools:\n  - type: function\n    function:\n      name: weather\n"
            "      parameters:\n        type: object\n        properties:\n"
            f"          city: {{type: {city_type}}}\n{extra}"
        )

    first = build_plan(load(tmp_path / "a", {"w": tool("string")}), []).changes[0].desired
    existing = [assistant("w", id="asst_w", tools=first["tools"])]
    changed = tool("integer", "          days: {type: integer}\n")
    text = rendered(build_plan(load(tmp_path / "b", {"w": changed}), existing), "text")
    expected = """\
          ~ function "weather"
              ~ parameters.properties.city.type: "string" -> "integer"
              + parameters.properties.days: {"type": "integer"}
        ]"""
    assert expected in text, text


def test_tools_in_another_order_show_both_orders() -> None:
    """An agent's tools are not sorted, so reordering them is a change (it showed as `tools = [ ]`)."""
    from reconciler.plan import Change
    from reconciler.render.body import change_lines

    search = {"type": "web_search"}
    ticket = {"type": "function", "name": "open_ticket", "parameters": {"type": "object"}}
    change = Change(
        key="concierge",
        id="agent_1",
        action="update",
        changed_fields=("tools",),
        before={"tools": [ticket, search]},
        after={"tools": [search, ticket]},
        kind="agent",
    )
    assert [(line.sign, line.depth, line.text) for line in change_lines(change)][:4] == [
        ("~", 0, "tools = ["),
        ("-", 1, 'order: function "open_ticket", web_search'),
        ("+", 1, 'order: web_search, function "open_ticket"'),
        (" ", 0, "]"),
    ]
