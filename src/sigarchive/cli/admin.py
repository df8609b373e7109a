"""Administration: storages, users, trust anchors, plugins."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from sigarchive.archive import accounts, trust
from sigarchive.cli._common import (
    cli_actor,
    database,
    err,
    out,
    plugins_app,
    run,
    storage_app,
    trust_app,
    user_app,
)
from sigarchive.config import Settings
from sigarchive.errors import ExitCode


@storage_app.command("create")
def storage_create(name: Annotated[str, typer.Argument(help="Storage name.")]) -> None:
    """Create a storage; prints its id on the last line."""

    def action() -> int:
        with database() as db, db.session() as session:
            return accounts.create_storage(session, name, cli_actor()).id

    storage_id = run(action)
    out.print(f"Created storage {name!r}", highlight=False)
    print(storage_id)


@storage_app.command("retention")
def storage_retention(
    storage_id: Annotated[int, typer.Argument(help="Storage id.")],
    require: Annotated[
        bool | None,
        typer.Option(
            "--require/--no-require",
            help="Retain every document uploaded here, even with UseArchiveCa=false.",
        ),
    ] = None,
    plugin: Annotated[
        str | None,
        typer.Option(
            "--plugin",
            help="Document storage plugin for uploads that name none ('database': the default).",
        ),
    ] = None,
) -> None:
    """Set a storage's retention policy (Archive CA subsystem)."""
    from sigarchive.metadata.configuration import set_storage_retention
    from sigarchive.plugins.config import LOCAL, load_plugin_config

    def action() -> tuple[bool, str | None]:
        config = load_plugin_config(Settings().plugin_config_path)
        known = [LOCAL, *(e.name for e in config.document_storage)]
        with database() as db, db.session() as session:
            storage = set_storage_retention(
                session,
                storage_id,
                cli_actor(),
                require=require,
                plugin=plugin,
                known_plugins=known,
            )
            return storage.require_retention, storage.document_plugin

    required, default_plugin = run(action)
    out.print(
        f"Storage {storage_id}: retention {'required' if required else 'on request'}, "
        f"documents kept in {default_plugin or 'database'}",
        highlight=False,
    )


@storage_app.command("list")
def storage_list() -> None:
    """List storages."""

    def action() -> list[tuple[int, str]]:
        with database() as db, db.session() as session:
            return [(s.id, s.name) for s in accounts.list_storages(session)]

    table = Table("id", "name")
    for storage_id, name in run(action):
        table.add_row(str(storage_id), name)
    out.print(table)


@user_app.command("create")
def user_create(
    name: Annotated[str, typer.Argument(help="User (source system) name.")],
    storage: Annotated[
        list[int] | None, typer.Option("--storage", help="Storage id to grant (repeatable).")
    ] = None,
    admin: Annotated[
        bool,
        typer.Option("--admin", help="An operator: reads all metadata, changes the configuration."),
    ] = False,
) -> None:
    """Create an API user; prints its bearer token (shown only once) on the last line."""
    if not storage and not admin:
        err.print("[red]error[/red] give --storage (repeatable) or --admin")
        raise typer.Exit(ExitCode.INVALID_INPUT)

    def action() -> str:
        with database() as db, db.session() as session:
            _user, token = accounts.create_user(
                session, name, storage or [], cli_actor(), is_admin=admin
            )
            return token

    token = run(action)
    out.print(
        f"Created user {name!r}; its API token (keep it, it is not shown again):", highlight=False
    )
    print(token)


@user_app.command("grant")
def user_grant(
    name: Annotated[str, typer.Argument(help="User name.")],
    storage: Annotated[list[int], typer.Option("--storage", help="Storage id (repeatable).")],
) -> None:
    """Grant storages to an existing user."""

    def action() -> None:
        with database() as db, db.session() as session:
            for storage_id in storage:
                accounts.grant(session, name, storage_id, cli_actor())

    run(action)
    out.print(f"Granted storages {storage} to {name!r}", highlight=False)


@trust_app.command("add")
def trust_add(
    file: Annotated[Path, typer.Argument(help="Certificate(s), PEM or DER.", exists=True)],
) -> None:
    """Trust the certificate(s) in FILE; prints each anchor's SHA-256, the last one last."""

    def action() -> list[tuple[str, str]]:
        with database() as db, db.session() as session:
            anchors = trust.add_anchors_from_file(session, file, cli_actor())
            return [(a.sha256, a.subject) for a in anchors]

    for digest, subject in run(action):
        out.print(f"Trusted {subject}", highlight=False)
        print(digest)


@trust_app.command("list")
def trust_list() -> None:
    """List trust anchors."""

    def action() -> list[tuple[str, str, str, str]]:
        with database() as db, db.session() as session:
            return [
                (a.sha256[:16], a.subject, a.not_after.date().isoformat(), a.source)
                for a in trust.list_anchors(session)
            ]

    table = Table("sha256", "subject", "not after", "source")
    for row in run(action):
        table.add_row(*row)
    out.print(table)


@trust_app.command("remove")
def trust_remove(
    sha256: Annotated[str, typer.Argument(help="SHA-256 of the anchor (at least 8 hex digits).")],
) -> None:
    """Stop trusting an anchor."""

    def action() -> str:
        with database() as db, db.session() as session:
            return trust.remove_anchor(session, sha256, cli_actor()).subject

    out.print(f"Removed {run(action)}", highlight=False)


@plugins_app.command("list")
def plugins_list(
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show the configured plugins and whether each initialised (in this process)."""
    import json

    from sigarchive.plugins.config import load_plugin_config
    from sigarchive.plugins.loader import PluginHandle, build_registry

    def action() -> tuple[str, list[dict[str, object]]]:
        settings = Settings()
        config = load_plugin_config(settings.plugin_config_path)
        with database() as db:
            registry = build_registry(config, db=db, documents_dir=settings.documents_dir)
            try:
                handles: list[tuple[str, PluginHandle]] = [
                    ("DocumentStorage", h) for h in registry.storages.values()
                ]
                handles += [("SanConnector", h) for h in registry.post_enhancement]
                rows: list[dict[str, object]] = [
                    {
                        "kind": kind,
                        "name": handle.name,
                        "assembly": handle.assembly,
                        "enabled": handle.enabled,
                        "readOnly": handle.read_only,
                        "initialised": handle.initialised,
                        "error": handle.init_error,
                    }
                    for kind, handle in handles
                ]
            finally:
                registry.close()
        source = str(config.path) if config.path else f"{settings.plugin_config_path} (absent)"
        return source, rows

    source, rows = run(action)
    if json_output:
        print(json.dumps({"config": source, "plugins": rows}, indent=2, ensure_ascii=False))
        return
    out.print(f"plugin configuration: {source}", highlight=False)
    table = Table("kind", "name", "assembly", "enabled", "read-only", "initialised")
    for column in table.columns[:2]:
        column.no_wrap = True
    for row in rows:
        state = "yes" if row["initialised"] else f"no: {row['error']}"
        if not row["enabled"]:
            state = "-"
        table.add_row(
            str(row["kind"]),
            str(row["name"]),
            str(row["assembly"]),
            "yes" if row["enabled"] else "no",
            "yes" if row["readOnly"] else "no",
            state,
        )
    out.print(table)
