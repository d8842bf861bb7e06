"""reconciler: assistants as code for the OpenAI Assistants API (v1).

`__version__` is the installed distribution's version (pyproject.toml is its one source).
"""

from importlib.metadata import PackageNotFoundError, version

#: The distribution's name on PyPI (`reconciler` there is an unrelated project); the import name stays.
DISTRIBUTION = "assistants-reconciler"

try:
    __version__ = version(DISTRIBUTION)
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"
