"""Commands that run the archive: serve, worker, renew."""

from __future__ import annotations

import logging
import signal
import threading
from datetime import UTC, datetime
from typing import Annotated

import typer

from sigarchive.cli._common import (
    app,
    err,
    out,
    run,
)
from sigarchive.config import Settings
from sigarchive.errors import ExitCode
from sigarchive.runtime import ArchiveRuntime


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    log_level: Annotated[str, typer.Option(help="Log level.")] = "info",
) -> None:
    """Start the archive server (API docs at /swagger)."""
    import uvicorn

    from sigarchive.api.app import create_app
    from sigarchive.plugins.config import load_plugin_config
    from sigarchive.plugins.loader import check_plugin_config

    logging.basicConfig(level=log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    settings = Settings()
    err.print(f"sigarchive: data directory {settings.data_dir.resolve()}")
    run(lambda: check_plugin_config(load_plugin_config(settings.plugin_config_path)))
    uvicorn.run(create_app(settings), host=host, port=port, log_level=log_level)


@app.command()
def worker(
    loops: Annotated[int, typer.Option(help="Worker loops (threads) in this process.")] = 1,
    log_level: Annotated[str, typer.Option(help="Log level.")] = "info",
) -> None:
    """Run the signature-updater (enhancement, renewal, end of storage) until interrupted.

    Any number of these can run on any number of machines against one database."""
    logging.basicConfig(level=log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    runtime = run(lambda: ArchiveRuntime.open(Settings()))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        run(lambda: runtime.start_workers(loops))
        err.print(f"sigarchive worker: {loops} loop(s) running; Ctrl-C to stop")
        while not stop.wait(1):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        runtime.close()


@app.command()
def renew(
    due_before: Annotated[
        datetime | None,
        typer.Option("--due-before", help="Renew containers due before this date."),
    ] = None,
    certificate: Annotated[
        str | None,
        typer.Option(
            "--certificate",
            help="Renew every container depending on this certificate (SHA-256, hex), e.g. "
            "a compromised TSA or CA.",
        ),
    ] = None,
    storage: Annotated[
        list[int] | None,
        typer.Option("--storage", help="With --certificate: only in this storage (repeatable)."),
    ] = None,
) -> None:
    """Add a new archive time-stamp now to every container due before DATE, or to every
    container that depends on a certificate."""
    if (due_before is None) == (certificate is None):
        err.print("[red]error[/red] give either --due-before or --certificate")
        raise typer.Exit(ExitCode.INVALID_INPUT)

    from sigarchive.archive.renewal import renew_dependents, renew_due

    def action() -> tuple[int, int]:
        runtime = ArchiveRuntime.open(Settings())
        try:
            if certificate is not None:
                return renew_dependents(runtime.renewal(), certificate, storage_ids=storage or None)
            assert due_before is not None
            due = due_before if due_before.tzinfo else due_before.replace(tzinfo=UTC)
            return renew_due(runtime.renewal(), due)
        finally:
            runtime.close()

    renewed, skipped = run(action)
    out.print(
        f"Renewed {renewed} container(s); {skipped} busy or failed (see problems)", highlight=False
    )
    print(renewed)
