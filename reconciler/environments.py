"""Environments: `reconciler.yaml` at the repository root names the API targets, in promotion order.

```yaml
environments:
  staging:
    base_url: https://staging.example.com/v1   # default: OpenAI's API
    api_key_env: STAGING_OPENAI_API_KEY        # the NAME of the key's variable (default OPENAI_API_KEY)
    organization: org-staging                  # optional, sent as OpenAI-Organization
    project: proj_staging                      # optional, sent as OpenAI-Project
    directory: assistants                      # optional manifest directory, relative to the root
  production:
    api_key_env: PROD_OPENAI_API_KEY
    protect_drift: true                        # apply refuses to overwrite edits made outside reconciler
```

Without the file, nothing changes: one target from the flags and the environment variables. With it, `--env
NAME` picks one environment (its connection replaces OPENAI_BASE_URL, OPENAI_ORG_ID and OPENAI_PROJECT_ID)
and manifests are merged for it (`manifest.overrides`). A key is never accepted as a value: `api_key_env` must
be a variable name, and a value that looks like a key is refused without being shown.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler import fsio, redact
from reconciler.errors import ConfigError
from reconciler.manifest.errors import ManifestError, Path_, describe, format_field_path
from reconciler.manifest.overrides import Selected, did_you_mean
from reconciler.manifest.reading import (
    DecodeError,
    NotRegularError,
    OutsideLinkError,
    decode_yaml,
    is_within,
    open_in,
    read_open,
)
from reconciler.options import DEFAULT_KEY_VARIABLE, ConnectionOptions, header_problem

if TYPE_CHECKING:
    from reconciler.manifest import composer

CONFIG_FILE = "reconciler.yaml"
#: A name the config file is not read under (said so, never silently ignored).
OTHER_NAME = "reconciler.yml"
#: The config file is read up to this size (it names a few environments).
MAX_CONFIG_BYTES = 1 << 20
#: An environment's name: also a folder under `.reconciler/envs/` and a GitHub environment.
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
#: What `Path.resolve` means by a RuntimeError (Python 3.13 raises the OSError of this strerror instead).
LOOP = "Too many levels of symbolic links"
_VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
#: What an API key looks like: such a value is never a variable name, and never shown.
_LOOKS_LIKE_KEY = re.compile(r"^\s*(sk-|sess-)")
FIELDS = ("base_url", "api_key_env", "organization", "project", "directory", "protect_drift")
#: The fields holding true or false; the others hold strings.
FLAGS = ("protect_drift",)
#: The fields sent as HTTP headers (OpenAI-Organization, OpenAI-Project).
HEADERS = ("organization", "project")


@dataclass(frozen=True)
class Environment:
    """One API target: its connection (the key's variable, never the key) and its manifest directory."""

    name: str
    base_url: str | None = None
    key_variable: str = DEFAULT_KEY_VARIABLE
    organization: str | None = None
    project: str | None = None
    directory: Path | None = None
    #: Apply refuses to overwrite edits made outside reconciler (as `apply --protect-drift`).
    protect_drift: bool = False


@dataclass(frozen=True)
class Config:
    """The environments of `path`, in promotion order (the order of the file)."""

    path: Path
    environments: tuple[Environment, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(e.name for e in self.environments)

    def get(self, name: str) -> Environment:
        """The environment `name`, or ConfigError naming the configured ones (with a did-you-mean)."""
        for environment in self.environments:
            if environment.name == name:
                return environment
        hint = did_you_mean(name, self.names)
        raise ConfigError(
            f"unknown environment '{name}'{hint}: {self.path.name} names {', '.join(self.names)}"
        )

    def selected(self, name: str) -> Selected:
        """How the manifest loader sees environment `name`."""
        return Selected(name, self.names)


def find(root: Path) -> Config | None:
    """The configuration at `root` (the repository root), or None when there is no CONFIG_FILE. Raises
    ConfigFileError (one line per problem in `errors`) when it is invalid or not a readable regular file."""
    path = root / CONFIG_FILE
    if not os.path.lexists(path):
        if os.path.lexists(root / OTHER_NAME):
            raise ConfigError(f"{OTHER_NAME} is not read: rename it {CONFIG_FILE} (docs/environments.md)")
        return None
    return load(path)


class ConfigFileError(ConfigError):
    """An invalid CONFIG_FILE: `errors` holds one FILE:LINE:COL line per problem."""

    def __init__(self, path: Path, errors: list[ManifestError]) -> None:
        noun = "error" if len(errors) == 1 else "errors"
        super().__init__(f"{len(errors)} {noun} in {path.name}")
        self.errors = errors


def load(path: Path) -> Config:
    """Read and check `path` (see the module docstring); ConfigFileError lists every problem. Read as the
    manifests are: a regular file only, bounded, nesting and aliases limited, plain YAML 1.2 data."""
    from reconciler.manifest import composer

    converter = composer.Converter()
    checker = _Checker(path.name, converter, path.parent.resolve())
    data = _read(path, checker)
    if not checker.errors:
        checker.config(data)
    if checker.errors:
        raise ConfigFileError(path, sorted(checker.errors, key=lambda e: (e.line or 0, e.col or 0)))
    return Config(path, tuple(checker.environments))


def _read(path: Path, checker: _Checker) -> Any:
    """The data of `path`, or None after reporting why it cannot be read."""
    # The YAML readers are imported here, with a configuration to read: a plan without one sends its first
    # list call sooner (the manifests' own reading is imported on the loading thread, `run_plan`).
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    from reconciler.manifest import composer, events

    text = ""
    try:
        fd, size = open_in(path, checker.root)  # a link swapped in meanwhile is never followed
        data = read_open(fd, size, MAX_CONFIG_BYTES)
        if len(data) > MAX_CONFIG_BYTES:
            raise ValueError(f"over {MAX_CONFIG_BYTES:,} bytes")
        text = decode_yaml(data, "configuration file")
        events.read(text)  # refuses deep nesting before the composer recurses into it
        roots = [r for r in composer.compose(text) if r is not None]
    except OutsideLinkError as err:
        checker.error((), str(err))
        return None
    except (events.LimitError, DecodeError) as err:
        checker.error((), str(err), position=err.position)
        return None
    except MarkedYAMLError as err:
        message, where = composer.yaml_problem(text, err)
        checker.error((), message, position=where)
        return None
    except (OSError, ValueError, YAMLError, NotRegularError) as err:
        problem = getattr(err, "strerror", None) or str(err)
        checker.error((), f"cannot read {CONFIG_FILE}: {problem}")
        return None
    if len(roots) != 1:
        checker.error((), f"expected one YAML document with 'environments:', got {len(roots)}")
        return None
    try:
        data = checker.converter.convert(roots[0])
    except composer.DocumentError as err:
        checker.error((), str(err), position=composer.mark(err.node))
        return None
    for position, field_path, problem in checker.converter.problems:
        checker.error(field_path, problem, position=position)
    return data


class _Checker:
    """Checks the configuration's data, collecting FILE:LINE:COL errors."""

    def __init__(self, shown: str, converter: composer.Converter, root: Path) -> None:
        self.shown = shown
        self.converter = converter
        self.root = root  # the repository root (resolved): `directory:` stays inside it
        self.errors: list[ManifestError] = []
        self.environments: list[Environment] = []

    def error(
        self, path: Path_, message: str, at_key: bool = False, position: tuple[int, int] | None = None
    ) -> None:
        table = self.converter.keys if at_key else self.converter.values
        line, col = position or table.get(path) or self.converter.values.get(path) or (1, 1)
        self.errors.append(ManifestError(self.shown, line, col, format_field_path(path) or None, message))

    def config(self, data: Any) -> None:
        if not isinstance(data, dict):
            self.error((), f"expected a mapping with 'environments:', got {describe(data)}")
            return
        for name in data:
            if name != "environments":
                self.error((name,), _unknown(name, ("environments",)), at_key=True)
        block = data.get("environments")
        if isinstance(block, dict) and not block:
            self.error(("environments",), "no environment is named: name at least one (or remove the file)")
            return
        if not isinstance(block, dict):
            self.error(("environments",), f"expected a mapping of environment names, got {describe(block)}")
            return
        for name, fields in block.items():
            environment = self.environment(name, fields)
            if environment is not None:
                self.environments.append(environment)

    def environment(self, name: Any, fields: Any) -> Environment | None:
        where: Path_ = ("environments", name)
        if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
            self.error(where, "an environment name is lowercase letters, digits, - and _ (at most 40)", True)
            return None
        if fields is None:
            fields = {}
        if not isinstance(fields, dict):
            self.error(where, f"expected a mapping of {', '.join(FIELDS)}, got {describe(fields)}")
            return None
        values: dict[str, Any] = {}
        for key, value in fields.items():
            if key not in FIELDS:
                self.error((*where, key), _unknown(key, FIELDS), at_key=True)
            elif key in FLAGS:
                if isinstance(value, bool):
                    values[key] = value
                else:
                    self.error((*where, key), f"expected true or false, got {describe(value)}")
            elif not isinstance(value, str) or not value.strip():
                self.error((*where, key), f"expected a non-empty string, got {describe(value)}")
            elif key in HEADERS and (problem := header_problem(value.strip())):
                self.error(
                    (*where, key), f"holds {problem}, which no HTTP header can carry: give the ID alone"
                )
            else:
                values[key] = value.strip()
        environment = Environment(name)
        variable = values.pop("api_key_env", None)
        if variable is not None and self._variable((*where, "api_key_env"), variable):
            environment = replace(environment, key_variable=variable)
        if "base_url" in values and not self._url((*where, "base_url"), values["base_url"]):
            del values["base_url"]
        if "directory" in values:
            directory = values.pop("directory")
            if self._directory((*where, "directory"), directory):
                environment = replace(environment, directory=Path(directory))
        return replace(environment, **values)

    def _directory(self, where: Path_, value: str) -> bool:
        """A manifest directory relative to the root, inside it (symlinks resolved), that exists."""
        written = Path(value)
        if written.is_absolute():
            self.error(where, f"'{value}' is absolute: give the directory relative to the repository root")
            return False
        try:
            resolved = (self.root / written).resolve()
            problem = fsio.not_a_directory(resolved) if is_within(resolved, self.root) else None
        except (OSError, RuntimeError) as err:  # RuntimeError: a symlink loop, before Python 3.13
            why = LOOP if isinstance(err, RuntimeError) else err.strerror or str(err)
            self.error(where, f"cannot read '{value}': {why}")
            return False
        if not is_within(resolved, self.root):
            self.error(where, f"'{value}' is outside the repository ({self.root})")
            return False
        if problem is not None:
            self.error(where, f"'{value}': {problem}")
            return False
        if not resolved.is_dir():
            self.error(where, f"directory '{value}' not found (relative to the repository root)")
            return False
        return True

    def _url(self, where: Path_, value: str) -> bool:
        from reconciler.connection import check_base_url

        try:
            check_base_url(value)
        except ConfigError as err:
            self.error(where, str(err).replace(" (from --base-url or OPENAI_BASE_URL)", ""))
            return False
        return True

    def _variable(self, where: Path_, value: str) -> bool:
        if _LOOKS_LIKE_KEY.search(value):
            self.error(
                where, "this looks like an API key: name the environment variable holding it, never the key"
            )
            return False
        if not _VARIABLE.fullmatch(value):
            self.error(where, "expected the name of an environment variable (letters, digits and _)")
            return False
        redact.mask_variable(value)  # from now on: this file's own errors may quote that key
        return True


def _unknown(name: Any, known: tuple[str, ...]) -> str:
    return f"unknown field '{name}'{did_you_mean(str(name), known)}"


def connection(environment: Environment, options: ConnectionOptions) -> ConnectionOptions:
    """`options` for `environment`: its base URL, organization, project and key variable replace what the
    process environment gave; `--local` keeps its own state per environment."""
    return replace(
        options,
        base_url=None if options.local else environment.base_url,
        organization=environment.organization,
        project=environment.project,
        key_variable=environment.key_variable,
        environment=environment.name,
    )


@dataclass(frozen=True)
class Target:
    """What one command run works on: the manifests of `directory` as merged for `selected` (None: no
    environments), through `connection`. `name` is the environment's, or None."""

    name: str | None
    directory: Path
    connection: ConnectionOptions
    selected: Selected | None = None
    #: The environment's `protect_drift` setting.
    protect_drift: bool = False


def target(
    config: Config | None, name: str, directory: Path, options: ConnectionOptions, *, own_dir: bool
) -> Target:
    """The Target of environment `name` of `config`: its connection (`connection`) and, unless `own_dir`
    (an explicit `--dir`), its own manifest directory (relative to the repository root)."""
    if config is None:
        raise ConfigError(
            f"--env {name}: no {CONFIG_FILE} at the repository root ({options.state_root}) names "
            "environments (docs/environments.md)"
        )
    environment = config.get(name)
    if environment.directory is not None and not own_dir:
        directory = config.path.parent / environment.directory
    return Target(
        name, directory, connection(environment, options), config.selected(name), environment.protect_drift
    )
