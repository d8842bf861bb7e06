"""Errors a user sees as one line.

Library code raises these; only the CLI turns them into `Error: ...` on stderr and exit code 1.
No message may contain the API key.
"""

from __future__ import annotations


class ReconcilerError(Exception):
    """An error the user can act on; `str(err)` is the one line shown."""


class ConfigError(ReconcilerError):
    """Bad command-line arguments or environment (missing key, bad base URL...)."""


class PlanError(ReconcilerError):
    """The manifests and the API cannot be reconciled (duplicate key, unknown `id:`, name collision...)."""


class UnsafePlanError(PlanError):
    """A plan exceeds a safety limit (mass delete) and needs `--force`."""


class StalePlanError(ReconcilerError):
    """A saved plan no longer matches what the API holds."""
