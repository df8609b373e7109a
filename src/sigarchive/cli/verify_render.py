"""Human-readable rendering (rich) of the offline verification report, for the CLI.

Presentation lives here so that the signature core (``signatures/verify.py``) stays free of it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from rich.console import Console

from sigarchive.signatures import (
    Finding,
    SubIndication,
    TimestampReport,
    Verdict,
    VerificationReport,
)

_STYLES = {
    Verdict.PASSED: "green",
    Verdict.WARNINGS: "yellow",
    Verdict.INDETERMINATE: "magenta",
    Verdict.FAILED: "bold red",
}


def _ok(value: bool | None) -> str:
    return "not checked" if value is None else "ok" if value else "[bold red]FAILED[/]"


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%SZ") if value is not None else ""


def _styled(verdict: Verdict, code: str | None = None, separator: str = " ") -> str:
    return f"[{_STYLES[verdict]}]{verdict.value}{separator + code if code else ''}[/]"


def _short(name: str | None, unknown: str = "unknown") -> str:
    """The common name of an asn1crypto human-friendly name, else the whole name."""
    if not name:
        return unknown
    # asn1crypto separates with "; " when a value contains ", "
    for part in name.split("; " if "; " in name else ", "):
        if part.startswith("Common Name: "):
            return part.removeprefix("Common Name: ")
    return name


_SHORT_KINDS = {
    "signature-time-stamp": "sig-tst",
    "archive-time-stamp-v3": "ATSv3",
    "archive-time-stamp-v2": "ATSv2",
    "archive-time-stamp-v1": "ATSv1",
}
_LEGEND = (
    "sig-tst: signature-time-stamp (EN 319 122-1 §5.3); ATSv3: archive-time-stamp-v3 "
    "(§5.5.3); ATSv2: archive-time-stamp-v2 (TS 101 733 Annex K); hash: message digest or "
    "time-stamp imprint; sig: signature value"
)


def print_report(report: VerificationReport, console: Console) -> None:
    """Print ``report``: a table per signer (time-stamps oldest first), then the findings."""
    from rich.markup import escape
    from rich.table import Table

    kind = "attached" if report.attached else "detached"
    document = f", document {escape(report.content)}" if report.content else ""
    console.print(
        f"Signature sha256 {report.signature_sha256[:16]}… ({report.signature_size} bytes, "
        f"{kind}{document}), {len(report.signers)} signer(s)",
        highlight=False,
    )
    for signer in report.signers:
        table = Table(
            title=f"Signer {signer.index + 1}: {escape(_short(signer.subject))}, "
            f"{signer.level}, {_styled(signer.verdict)}",
            caption=_LEGEND,
        )
        table.add_column("check", no_wrap=True)
        table.add_column("time (UTC)")
        table.add_column("by")
        table.add_column("hash / sig")
        table.add_column("verdict", overflow="fold")
        signer_failure = next(
            (f for f in signer.findings if f.subject in ("signature value", "message digest")),
            None,
        )
        table.add_row(
            "signature",
            f"{_when(signer.signing_time)} (claimed)" if signer.signing_time else "",
            f"{escape(_short(signer.subject))}\n{signer.signature_algorithm}",
            f"{_ok(signer.message_digest_ok)} / {_ok(signer.signature_ok)}",
            _styled(signer_failure.verdict, signer_failure.code, "\n")
            if signer_failure
            else _styled(Verdict.PASSED),
        )
        for stamp in signer.timestamps:
            table.add_row(*_stamp_row(stamp, escape))
        for counter in signer.counter_signatures:
            digest = "FAILED" if counter.failure_code == SubIndication.HASH_FAILURE else "ok"
            table.add_row(
                f"counter-sig {counter.path}",
                "",
                escape(_short(counter.subject)),
                f"{digest} / {_ok(counter.signature_ok)}",
                _styled(counter.verdict, counter.failure_code, "\n"),
            )
            for stamp in counter.timestamps:
                row = _stamp_row(stamp, escape)
                table.add_row(f"  {row[0]}", *row[1:])
        console.print(table)
        for finding in signer.findings:
            console.print(f"  {_finding_text(finding, escape)}", highlight=False)
        if signer.not_checked:
            names = ", ".join(sorted(set(signer.not_checked)))
            console.print(f"  not verified here: {names}", style="dim", highlight=False)
        if signer.validation is not None:
            sub = signer.validation.get("sub_indication")
            console.print(
                f"  trust (EN 319 102-1, offline): {signer.validation['indication']}"
                + (f" / {sub}" if sub else ""),
                highlight=False,
            )
    for finding in report.findings:
        console.print(_finding_text(finding, escape), highlight=False)
    console.print(f"Verdict: {_styled(report.verdict)}", highlight=False)


def _finding_text(finding: Finding, escape: Callable[[str], str]) -> str:
    return (
        f"{_styled(finding.verdict, finding.code)}: {escape(finding.subject)}: "
        f"{escape(finding.message)}"
    )


def _stamp_row(stamp: TimestampReport, escape: Callable[[str], str]) -> list[str]:
    by = escape(_short(stamp.tsa))
    if stamp.index is not None:
        by += f"\n{stamp.index.summary()}"
    return [
        _SHORT_KINDS.get(stamp.kind, stamp.kind),
        _when(stamp.gen_time),
        by,
        f"{_ok(stamp.imprint_ok)} / {_ok(stamp.token_signature_ok)}",
        _styled(stamp.verdict, stamp.failure_code, "\n"),
    ]
