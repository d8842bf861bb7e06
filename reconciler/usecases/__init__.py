"""The use cases: one function per command, called by the CLI with the option values it built.

- `planning`: load the manifests, fetch what planning needs through an open client, plan, show, save;
- `applying`: `reconciler apply` (with or without a saved plan), one client for the whole command;
- `importing`: `reconciler import`.

Nothing here calls `exit`: errors are ReconcilerErrors for the CLI to show.
"""
