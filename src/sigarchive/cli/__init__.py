"""The ``sigarchive`` command: serve, administer, verify.

``_common`` holds the apps and the error boundary; each module registers its commands on import.
"""

from sigarchive.cli import admin, checks, service  # noqa: F401  (each registers its commands)
from sigarchive.cli._common import app

__all__ = ["main"]


def main() -> None:
    app()
