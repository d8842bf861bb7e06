"""The repository the environment tests share: reconciler.yaml with staging and production, a manifest with
overrides (`hr-helper`) and one that exists only in staging (`canary`), all in canonical form (`fmt --check`
passes)."""

from __future__ import annotations

from pathlib import Path

#: reconciler.yaml, with `{staging}` and `{production}` standing for the servers' base URLs.
CONFIG = """\
environments:
  staging:
    base_url: {staging}
    api_key_env: STAGING_OPENAI_API_KEY
  production:
    base_url: {production}
    api_key_env: PRODUCTION_OPENAI_API_KEY
"""

HR = """\
name: HR Helper
description: Answers questions about company policies.
model: gpt-4-turbo
metadata:
  team: people-ops
environments:
  staging:
    name: HR Helper (staging)
    model: gpt-3.5-turbo
    metadata:
      tier: test
  production:
    description: null
"""

CANARY = """\
name: Canary
model: gpt-3.5-turbo
only:
  - staging
"""


def write_repository(root: Path, config: str) -> None:
    """`root/reconciler.yaml` holding `config`, and assistants/ holding HR and CANARY."""
    (root / "assistants").mkdir()
    (root / "assistants" / "hr-helper.yaml").write_text(HR)
    (root / "assistants" / "canary.yaml").write_text(CANARY)
    (root / "reconciler.yaml").write_text(config)
