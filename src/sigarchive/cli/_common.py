"""What every command shares: the Typer apps, the consoles, the database and the error boundary.

An :class:`~sigarchive.errors.ArchiveError` is turned into a message and its exit code in one
place, :func:`run`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import typer
from rich.console import Console

from sigarchive.config import Settings
from sigarchive.db.engine import Database
from sigarchive.errors import ArchiveError
from sigarchive.records.audit import Actor

app = typer.Typer(help="sigarchive: long-term archive for signed documents.", no_args_is_help=True)
storage_app = typer.Typer(help="Storages (partitions of the archive).", no_args_is_help=True)
user_app = typer.Typer(help="API users (source systems) and their storages.", no_args_is_help=True)
app.add_typer(storage_app, name="storage")
app.add_typer(user_app, name="user")
trust_app = typer.Typer(help="Trust anchors used to validate signatures.", no_args_is_help=True)
app.add_typer(trust_app, name="trust")
plugins_app = typer.Typer(
    help="Document storage and post-enhancement plugins (plugin-config.json).",
    no_args_is_help=True,
)
app.add_typer(plugins_app, name="plugins")

out = Console()
err = Console(stderr=True)
T = TypeVar("T")

audit_app = typer.Typer(help="The audit trail.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


@contextmanager
def database() -> Iterator[Database]:
    settings = Settings()
    settings.prepare_directories()
    db = Database(settings.resolved_database_url)
    try:
        db.migrate()
        yield db
    finally:
        db.dispose()


def cli_actor() -> Actor:
    return Actor.system("cli")


def run(action: Callable[[], T]) -> T:
    try:
        return action()
    except ArchiveError as error:
        err.print(f"[red]error[/red] {error.code}: {error.description}")
        raise typer.Exit(error.exit_code) from None
