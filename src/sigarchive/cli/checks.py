"""Checks and reading: verify a signature offline, the metadata tree, the audit chain, fixity."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from sigarchive.cli._common import (
    app,
    audit_app,
    cli_actor,
    database,
    err,
    out,
    run,
)
from sigarchive.config import Settings
from sigarchive.errors import ExitCode
from sigarchive.records.audit import record
from sigarchive.runtime import ArchiveRuntime


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

    from sigarchive.cli.verify_render import print_report
    from sigarchive.signatures import load_trust_roots, read_signature, verify_file

    def action() -> tuple[ExitCode, str | None]:
        roots = load_trust_roots(trust_files) if trust_files else None
        report = verify_file(read_signature(signature), content, trust_roots=roots)
        if json_output:
            return report.exit_code, json.dumps(report.to_json(), indent=2, ensure_ascii=False)
        print_report(report, out)
        return report.exit_code, None

    code, text = run(action)
    if text is not None:
        print(text)
    raise typer.Exit(code)


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
                Viewer.operator(), cli_actor(), split_path(path), Page(page_size, cursor)
            )
            return node.to_json()
        finally:
            runtime.close()

    node = run(action)
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

    from sigarchive.records.audit import verify as verify_chain

    def action() -> dict[str, Any]:
        with database() as db:
            report = verify_chain(db)
            with db.session() as session:
                record(session, "audit.verify", cli_actor(), details=report.to_json())
            return report.to_json()

    report = run(action)
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

    result = run(action)
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
