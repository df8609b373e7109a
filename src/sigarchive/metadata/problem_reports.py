"""Problem reports: the ``problems`` facet, their listing and resolution, and the checks that
raise them (signature validity after enhancement, certificates nearing expiry).

The seed's problem reporting plugin "stores a facet of information, recording particular
issues noticed in the repository". Kinds raised by the archive:

==========================  ========  ====================================================
kind                        severity  raised when
==========================  ========  ====================================================
signature-invalid           error     a signature's validation is TOTAL-FAILED
signature-indeterminate     warning   … is INDETERMINATE (e.g. no trusted path, no revocation)
enhancement-failed          error     a container cannot be enhanced (``archive/enhancement``)
renewal-failed              warning   a renewal fails
tsa-unavailable             warning   the TSA stays unreachable longer than allowed
revocation-unavailable      warning   OCSP/CRL stay unreachable longer than allowed
fixity-mismatch             critical  a retained document's digest no longer matches
fixity-unreadable           critical  a retained document cannot be read
certificate-expiring        warning   a certificate containers depend on expires soon
tsa-certificate-expiring    warning   … and it is a TSA's
configuration-invalid       error     the configuration file cannot be used
==========================  ========  ====================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, select
from sqlalchemy.orm import Session

from sigarchive.db.metadata_models import CertificateRecord, CertificateReference
from sigarchive.db.models import Container, Problem, utcnow
from sigarchive.errors import NotFound
from sigarchive.metadata.facets import FacetContext, PropertySpec
from sigarchive.metadata.tree import Node, Page, Properties, Viewer, encode_cursor, iso
from sigarchive.records import problems
from sigarchive.records.audit import Actor, record

SIGNATURE_PROBLEMS = ("signature-invalid", "signature-indeterminate")
EXPIRY_PROBLEMS = ("certificate-expiring", "tsa-certificate-expiring")

PROBLEM_PROPERTIES = (
    PropertySpec("problem", "string", "the kind, e.g. fixity-mismatch"),
    PropertySpec("severity", "string", "critical, error or warning"),
    PropertySpec("container", "string", "the container concerned, if any"),
    PropertySpec("certificate", "string", "SHA-256 of the certificate concerned, if any"),
    PropertySpec("message", "string", "what is wrong"),
    PropertySpec("created", "datetime", "when it was first noticed"),
    PropertySpec("resolved", "datetime", "when it was resolved (none while open)"),
    PropertySpec("resolvedBy", "string", "who resolved it"),
)


def problem_properties(problem: Problem) -> Properties:
    return {
        "id": problem.id,
        "problem": problem.kind,
        "severity": problem.severity,
        "container": problem.container_id,
        "storage.id": problem.storage_id,
        "certificate": problem.certificate_sha256,
        "message": problem.message,
        "created": iso(problem.created_at),
        "resolved": iso(problem.resolved_at),
        "resolvedBy": problem.resolved_by,
    }


# ---- listing and resolving ------------------------------------------------------------------


@dataclass(frozen=True)
class ProblemFilters:
    kind: str | None = None
    severity: str | None = None
    open: bool | None = None
    container_id: str | None = None
    storage_id: int | None = None
    certificate_sha256: str | None = None


def _visible(viewer: Viewer) -> list[ColumnElement[bool]]:
    if viewer.is_admin:
        return []
    return [Problem.storage_id.in_(sorted(viewer.storage_ids) or [-1])]


def list_problems(
    session: Session, viewer: Viewer, filters: ProblemFilters, page: Page
) -> tuple[list[Problem], str | None]:
    """Problems ``viewer`` may see matching ``filters``, newest first, one page."""
    conditions = _visible(viewer)
    if filters.storage_id is not None:
        conditions.append(Problem.storage_id == filters.storage_id)
    if filters.kind:
        conditions.append(Problem.kind == filters.kind)
    if filters.severity:
        conditions.append(Problem.severity == filters.severity)
    if filters.open is True:
        conditions.append(Problem.resolved_at.is_(None))
    elif filters.open is False:
        conditions.append(Problem.resolved_at.is_not(None))
    if filters.container_id:
        conditions.append(Problem.container_id == filters.container_id)
    if filters.certificate_sha256:
        conditions.append(Problem.certificate_sha256 == filters.certificate_sha256.lower())
    position = page.position()
    if position:
        conditions.append(Problem.id < int(position[0]))
    rows = list(
        session.scalars(
            select(Problem).where(*conditions).order_by(Problem.id.desc()).limit(page.size + 1)
        )
    )
    cursor = encode_cursor(rows[page.size - 1].id) if len(rows) > page.size else None
    return rows[: page.size], cursor


def resolve_problem(session: Session, viewer: Viewer, actor: Actor, problem_id: int) -> Problem:
    """Mark a problem resolved by ``actor`` (audited); 404 if not visible."""
    problem = session.get(Problem, problem_id)
    if problem is None or not (viewer.is_admin or viewer.sees(problem.storage_id)):
        raise NotFound(f"No problem with id {problem_id}", code="ProblemNotFound")
    if problem.resolved_at is None:
        problem.resolved_at = utcnow()
        problem.resolved_by = actor.user_name
        record(
            session,
            "problem.resolve",
            actor,
            container_id=problem.container_id,
            storage_id=problem.storage_id,
            details={"problemId": problem.id, "kind": problem.kind},
        )
    return problem


class ProblemsFacet:
    """``facets/problems/<id>``: the storage's problem reports, newest first; the facet's
    properties count the open ones by kind."""

    id = "problems"
    name = "Problem reports"
    properties: tuple[PropertySpec, ...] = PROBLEM_PROPERTIES

    def node(self, context: FacetContext, rest: Any) -> Node:
        scope = [Problem.storage_id == context.storage_id] if context.storage_id is not None else []
        if not rest:
            open_counts = {
                kind: count
                for kind, count in context.session.execute(
                    select(Problem.kind, func.count())
                    .where(*scope, Problem.resolved_at.is_(None))
                    .group_by(Problem.kind)
                )
            }
            node = context.node(
                [],
                "facet",
                {
                    "id": self.id,
                    "name": self.name,
                    "entryProperties": [p.to_json() for p in self.properties],
                    "openByKind": open_counts,
                    "open": sum(open_counts.values()),
                },
            )
            position = context.page.position()
            query = select(Problem.id).where(*scope)
            if position:
                query = query.where(Problem.id < int(position[0]))
            ids = list(
                context.session.scalars(
                    query.order_by(Problem.id.desc()).limit(context.page.size + 1)
                )
            )
            for problem_id in ids[: context.page.size]:
                node.add_child(str(problem_id), "problem")
            if len(ids) > context.page.size:
                node.next_cursor = encode_cursor(ids[context.page.size - 1])
            return node
        if len(rest) == 1 and rest[0].isdigit():
            problem = context.session.get(Problem, int(rest[0]))
            if problem is not None and (
                context.storage_id is None or problem.storage_id == context.storage_id
            ):
                return context.node(rest, "problem", problem_properties(problem))
        raise NotFound(f"No problem {'/'.join(rest)!r}", code="NodeNotFound")


# ---- checks ---------------------------------------------------------------------------------


def report_signature_validity(session: Session, container: Container) -> None:
    """Raise or resolve ``signature-invalid``/``-indeterminate`` from the latest reports."""
    failed: list[str] = []
    indeterminate: list[str] = []
    for signature in container.signatures:
        for signer in (signature.report or {}).get("signers", []):
            label = (
                f"signature {signature.position + 1} signer {signer.get('signer_index', 0) + 1} "
                f"({signer.get('signer_subject') or 'unknown signer'}): "
                f"{signer.get('indication')}/{signer.get('sub_indication')}"
            )
            if signer.get("indication") == "TOTAL-FAILED":
                failed.append(label)
            elif signer.get("indication") == "INDETERMINATE":
                indeterminate.append(label)
    for kind, found, severity in (
        ("signature-invalid", failed, "error"),
        ("signature-indeterminate", indeterminate, "warning"),
    ):
        if found:
            problems.report(
                session,
                kind,
                "; ".join(found),
                container_id=container.id,
                storage_id=container.storage_id,
                severity=severity,
            )
        else:
            problems.resolve(session, container.id, (kind,))


def check_certificate_expiry(
    session: Session, warning: timedelta, now: datetime | None = None, limit: int = 500
) -> int:
    """Report certificates containers depend on that expire within ``warning`` (each once:
    a report an operator resolved is not raised again). Reads the ``not_after`` index range
    only; returns how many were reported."""
    now = now or utcnow()
    referenced = exists().where(CertificateReference.certificate_sha256 == CertificateRecord.sha256)
    candidates = session.scalars(
        select(CertificateRecord)
        .where(
            CertificateRecord.not_after >= now,
            CertificateRecord.not_after < now + warning,
            referenced,
        )
        .order_by(CertificateRecord.not_after)
        .limit(limit)
    ).all()
    reported = 0
    for certificate in candidates:
        already = session.scalar(
            select(Problem.id)
            .where(
                Problem.certificate_sha256 == certificate.sha256,
                Problem.kind.in_(EXPIRY_PROBLEMS),
            )
            .limit(1)
        )
        if already is not None:
            continue
        is_tsa = session.scalar(
            select(CertificateReference.id)
            .where(
                and_(
                    CertificateReference.certificate_sha256 == certificate.sha256,
                    CertificateReference.reference_type == "tsa",
                )
            )
            .limit(1)
        )
        kind = "tsa-certificate-expiring" if is_tsa is not None else "certificate-expiring"
        problems.report(
            session,
            kind,
            f"{certificate.subject} expires on {certificate.not_after.date().isoformat()}; "
            f"GET /api/references/certificate/{certificate.sha256} lists the containers "
            "depending on it",
            certificate_sha256=certificate.sha256,
            severity="warning",
        )
        reported += 1
    return reported
