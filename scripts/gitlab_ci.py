#!/usr/bin/env python3
"""GitLab CI helper for docs/ci.md's jobs: the merge request's plan note and the drift issue (stdlib only).

python3 gitlab_ci.py note FILE          post FILE as the merge request's plan note, editing the earlier one
python3 gitlab_ci.py drift FILE CODE    CODE 2: open the drift issue with FILE, or replace its description;
                                        CODE 0: close it if open; anything else: exit 1, issue untouched

Needs the job's CI_API_V4_URL and CI_PROJECT_ID (and CI_MERGE_REQUEST_IID for `note`), and GITLAB_TOKEN: a
project access token with the `api` scope (a job token cannot write notes or issues). Errors are one line on
stderr, exit 1; the token never appears in them.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

PLAN_MARKER = "<!-- reconciler:plan -->"
LABEL = "reconciler-drift"
TITLE = "Drift: assistants differ from their manifests"
PAGE = 100


class Failure(Exception):
    """One line for stderr."""


def env(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise Failure(f"{name} is not set (docs/ci.md, GitLab CI)")
    return value


def call(method: str, url: str, data: dict[str, Any] | None = None) -> Any:
    """One API call with the token; the decoded JSON answer."""
    body = json.dumps(data).encode() if data is not None else None
    headers = {"PRIVATE-TOKEN": env("GITLAB_TOKEN"), "Content-Type": "application/json"}
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)
    except urllib.error.HTTPError as err:
        raise Failure(f"{method} {url.split('?')[0]}: HTTP {err.code}") from None
    except (urllib.error.URLError, OSError, ValueError) as err:
        raise Failure(f"{method} {url.split('?')[0]}: {getattr(err, 'reason', err)}") from None


def project_api() -> str:
    return f"{env('CI_API_V4_URL').rstrip('/')}/projects/{urllib.parse.quote(env('CI_PROJECT_ID'), safe='')}"


def first_match(url: str, matches: Any) -> dict[str, Any] | None:
    """The first item of a paginated list (PAGE per page) for which `matches(item)` holds."""
    page = 1
    while True:
        separator = "&" if "?" in url else "?"
        items = call("GET", f"{url}{separator}per_page={PAGE}&page={page}")
        found = next((item for item in items if matches(item)), None)
        if found is not None or len(items) < PAGE:
            return found
        page += 1


def note(path: str) -> str:
    text = read(path)
    api = f"{project_api()}/merge_requests/{env('CI_MERGE_REQUEST_IID')}/notes"
    found = first_match(api, lambda n: str(n.get("body", "")).startswith(PLAN_MARKER))
    if found:
        call("PUT", f"{api}/{found['id']}", {"body": text})
        return f"updated note {found['id']}"
    created = call("POST", api, {"body": text})
    return f"created note {created.get('id')}"


def drift(path: str, code: str) -> str:
    api = f"{project_api()}/issues"
    if code not in ("0", "2"):
        raise Failure(f"the plan failed (exit code {code}): the drift issue is left as it is")
    found = first_match(f"{api}?state=opened&labels={LABEL}", lambda issue: True)
    if code == "0":
        if not found:
            return "no drift"
        call("PUT", f"{api}/{found['iid']}", {"state_event": "close"})
        return f"no drift any more: closed issue {found['iid']}"
    description = read(path)
    if found:
        call("PUT", f"{api}/{found['iid']}", {"description": description})
        return f"drift: updated issue {found['iid']}"
    created = call("POST", api, {"title": TITLE, "labels": LABEL, "description": description})
    return f"drift: opened issue {created.get('iid')}"


def read(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError as err:
        raise Failure(f"{path}: {err.strerror}") from None


def main(argv: list[str]) -> int:
    try:
        if len(argv) == 2 and argv[0] == "note":
            print(f"gitlab_ci: {note(argv[1])}")
        elif len(argv) == 3 and argv[0] == "drift":
            print(f"gitlab_ci: {drift(argv[1], argv[2])}")
        else:
            raise Failure("usage: gitlab_ci.py note FILE | gitlab_ci.py drift FILE EXITCODE")
    except Failure as err:
        print(f"gitlab_ci: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
