"""reconciler: assistants as code for the OpenAI Assistants API (v1).

`__version__` is the installed distribution's version (pyproject.toml is its one source), read from the
package metadata on first use: importing importlib.metadata costs tens of milliseconds that
`reconciler --help` need not pay.
"""

#: The distribution's name on PyPI (`reconciler` there is an unrelated project); the import name stays.
DISTRIBUTION = "assistants-reconciler"


def __getattr__(name: str) -> str:
    if name != "__version__":
        raise AttributeError(f"module 'reconciler' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        value = version(DISTRIBUTION)
    except PackageNotFoundError:  # a source tree that was never installed
        value = "0+unknown"
    globals()["__version__"] = value
    return value
