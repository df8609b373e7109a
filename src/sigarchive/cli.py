"""The ``sigarchive`` command: serve, administer, verify."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from sigarchive.archive import accounts, trust
from sigarchive.archive.audit import Actor, record
from sigarchive.config import Settings
from sigarchive.db.engine import Database
from sigarchive.errors import ArchiveError, ExitCode
from sigarchive.runtime import ArchiveRuntime

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


@contextmanager
def _database() -> Iterator[Database]:
    settings = Settings()
    settings.prepare_directories()
    db = Database(settings.resolved_database_url)
    try:
        db.migrate()
        yield db
    finally:
        db.dispose()


def _cli_actor() -> Actor:
    return Actor.system("cli")


def _run(action: Callable[[], T]) -> T:
    try:
        return action()
    except ArchiveError as error:
        err.print(f"[red]error[/red] {error.code}: {error.description}")
        raise typer.Exit(error.exit_code) from None


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
    _run(lambda: check_plugin_config(load_plugin_config(settings.plugin_config_path)))
    uvicorn.run(create_app(settings), host=host, port=port, log_level=log_level)


@storage_app.command("create")
def storage_create(name: Annotated[str, typer.Argument(help="Storage name.")]) -> None:
    """Create a storage; prints its id on the last line."""

    def action() -> int:
        with _database() as db, db.session() as session:
            return accounts.create_storage(session, name, _cli_actor()).id

    storage_id = _run(action)
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
    from sigarchive.archive.retention import set_storage_retention
    from sigarchive.plugins.config import LOCAL, load_plugin_config

    def action() -> tuple[bool, str | None]:
        config = load_plugin_config(Settings().plugin_config_path)
        known = [LOCAL, *(e.name for e in config.document_storage)]
        with _database() as db, db.session() as session:
            storage = set_storage_retention(
                session,
                storage_id,
                _cli_actor(),
                require=require,
                plugin=plugin,
                known_plugins=known,
            )
            return storage.require_retention, storage.document_plugin

    required, default_plugin = _run(action)
    out.print(
        f"Storage {storage_id}: retention {'required' if required else 'on request'}, "
        f"documents kept in {default_plugin or 'database'}",
        highlight=False,
    )


@storage_app.command("list")
def storage_list() -> None:
    """List storages."""

    def action() -> list[tuple[int, str]]:
        with _database() as db, db.session() as session:
            return [(s.id, s.name) for s in accounts.list_storages(session)]

    table = Table("id", "name")
    for storage_id, name in _run(action):
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
        with _database() as db, db.session() as session:
            _user, token = accounts.create_user(
                session, name, storage or [], _cli_actor(), is_admin=admin
            )
            return token

    token = _run(action)
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
        with _database() as db, db.session() as session:
            for storage_id in storage:
                accounts.grant(session, name, storage_id, _cli_actor())

    _run(action)
    out.print(f"Granted storages {storage} to {name!r}", highlight=False)


@trust_app.command("add")
def trust_add(
    file: Annotated[Path, typer.Argument(help="Certificate(s), PEM or DER.", exists=True)],
) -> None:
    """Trust the certificate(s) in FILE; prints each anchor's SHA-256, the last one last."""

    def action() -> list[tuple[str, str]]:
        with _database() as db, db.session() as session:
            anchors = trust.add_anchors_from_file(session, file, _cli_actor())
            return [(a.sha256, a.subject) for a in anchors]

    for digest, subject in _run(action):
        out.print(f"Trusted {subject}", highlight=False)
        print(digest)


@trust_app.command("list")
def trust_list() -> None:
    """List trust anchors."""

    def action() -> list[tuple[str, str, str, str]]:
        with _database() as db, db.session() as session:
            return [
                (a.sha256[:16], a.subject, a.not_after.date().isoformat(), a.source)
                for a in trust.list_anchors(session)
            ]

    table = Table("sha256", "subject", "not after", "source")
    for row in _run(action):
        table.add_row(*row)
    out.print(table)


@trust_app.command("remove")
def trust_remove(
    sha256: Annotated[str, typer.Argument(help="SHA-256 of the anchor (at least 8 hex digits).")],
) -> None:
    """Stop trusting an anchor."""

    def action() -> str:
        with _database() as db, db.session() as session:
            return trust.remove_anchor(session, sha256, _cli_actor()).subject

    out.print(f"Removed {_run(action)}", highlight=False)


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
        with _database() as db:
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

    source, rows = _run(action)
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


@app.command()
def worker(
    loops: Annotated[int, typer.Option(help="Worker loops (threads) in this process.")] = 1,
    log_level: Annotated[str, typer.Option(help="Log level.")] = "info",
) -> None:
    """Run the signature-updater (enhancement, renewal, end of storage) until interrupted.

    Any number of these can run on any number of machines against one database."""
    logging.basicConfig(level=log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    runtime = _run(lambda: ArchiveRuntime.open(Settings()))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        _run(lambda: runtime.start_workers(loops))
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
                return renew_dependents(runtime, certificate, storage_ids=storage or None)
            assert due_before is not None
            due = due_before if due_before.tzinfo else due_before.replace(tzinfo=UTC)
            return renew_due(runtime, due)
        finally:
            runtime.close()

    renewed, skipped = _run(action)
    out.print(
        f"Renewed {renewed} container(s); {skipped} busy or failed (see problems)", highlight=False
    )
    print(renewed)


@app.command()
def verify(
    signature: Annotated[str, typer.Argument(help="CMS/CAdES signature file; - reads stdin.")],
    content: Annotated[
        Path | None,
        typer.Option("--content", help="The signed document (detached signatures).", exists=True),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    trust_files: Annotated[
        list[Path] | None,
        typer.Option(
            "--trust",
            help="Trust anchor(s), PEM or DER (repeatable): adds offline path "
            "validation (EN 319 102-1).",
            exists=True,
        ),
    ] = None,
) -> None:
    """Verify a signature offline: signature values, digests, (archive) time-stamps.

    Exit code (errors.ExitCode): 0 PASSED or WARNINGS; 1 FAILED; 2 unreadable input;
    3 INDETERMINATE."""
    import json

    from sigarchive.signatures import load_trust_roots, read_signature, verify_file
    from sigarchive.verify_render import print_report

    def action() -> tuple[ExitCode, str | None]:
        roots = load_trust_roots(trust_files) if trust_files else None
        report = verify_file(read_signature(signature), content, trust_roots=roots)
        if json_output:
            return report.exit_code, json.dumps(report.to_json(), indent=2, ensure_ascii=False)
        print_report(report, out)
        return report.exit_code, None

    code, text = _run(action)
    if text is not None:
        print(text)
    raise typer.Exit(code)


# ---- the metadata repository (SPEC §6) ------------------------------------------------------

audit_app = typer.Typer(help="The audit trail.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


@app.command()
def metadata(
    path: Annotated[str, typer.Argument(help="Tree path, e.g. repositories/1/facets/audit.")] = "",
    page_size: Annotated[int, typer.Option("--page-size", help="Children per page.")] = 100,
    cursor: Annotated[str | None, typer.Option(help="nextCursor of the previous page.")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the node as JSON.")] = False,
) -> None:
    """Show a node of the metadata tree (as an operator: every storage)."""
    import json

    from sigarchive.metadata.tree import Page, Viewer, split_path

    def action() -> dict[str, Any]:
        runtime = ArchiveRuntime.open(Settings())
        try:
            node = runtime.metadata.node(
                Viewer.operator(), _cli_actor(), split_path(path), Page(page_size, cursor)
            )
            return node.to_json()
        finally:
            runtime.close()

    node = _run(action)
    if json_output:
        print(json.dumps(node, indent=2, ensure_ascii=False))
        return
    print(f"{node['path'] or '/'} ({node['type']})")
    for key, value in node["properties"].items():
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        print(f"  {key}={shown}")
    for child in node["children"]:
        print(f"  {child['name']}/  ({child['type']})")
    if node["nextCursor"]:
        print(f"more: --cursor {node['nextCursor']}")


@audit_app.command("verify")
def audit_verify(
    json_output: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Check the audit trail's hash chain: exit 0 if intact, 1 if an entry was removed,
    inserted or altered."""
    import json

    from sigarchive.metadata.audit_chain import verify as verify_chain

    def action() -> dict[str, Any]:
        with _database() as db:
            report = verify_chain(db)
            with db.session() as session:
                record(session, "audit.verify", _cli_actor(), details=report.to_json())
            return report.to_json()

    report = _run(action)
    if json_output:
        print(json.dumps(report, indent=2))
    elif report["intact"]:
        print(f"Audit trail intact: {report['entries']} entries, head {report['headHash']}")
    else:
        err.print(f"[red]Audit trail BROKEN[/red] ({report['entries']} entries read):")
        for item in report["breaks"]:
            err.print(f"  seq {item['seq']} (event {item['eventId']}): {item['reason']}")
    raise typer.Exit(ExitCode.OK if report["intact"] else ExitCode.FAILED)


@app.command()
def fixity(
    container: Annotated[
        str | None, typer.Option("--container", help="Check only this container.")
    ] = None,
    batch: Annotated[int, typer.Option(help="Documents to check (without --container).")] = 1000,
) -> None:
    """Re-read retained documents now and compare their digests (problems for mismatches);
    exit 1 if any does not match or cannot be read."""
    from sigarchive.metadata.fixity import check_batch, check_container

    def action() -> dict[str, Any]:
        runtime = ArchiveRuntime.open(Settings())
        try:
            if container is not None:
                return check_container(runtime.db, runtime.open_document, container).to_json()
            return check_batch(
                runtime.db, runtime.open_document, after=None, limit=batch, max_bytes=None
            ).to_json()
        finally:
            runtime.close()

    result = _run(action)
    out.print(
        f"Checked {result['checked']} document(s): {len(result['mismatched'])} mismatched, "
        f"{len(result['unreadable'])} unreadable",
        highlight=False,
    )
    for container_id in [*result["mismatched"], *result["unreadable"]]:
        print(container_id)
    raise typer.Exit(
        ExitCode.FAILED if result["mismatched"] or result["unreadable"] else ExitCode.OK
    )


def main() -> None:
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
