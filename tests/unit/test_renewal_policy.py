"""When the next archive time-stamp is due (signatureUpdateDate)."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

from sigarchive.archive.enhancement import EnhancementPolicy, Enhancer, newest_archive_timestamp
from sigarchive.db.models import Container, Signature, utcnow
from sigarchive.devpki import DevTsa
from sigarchive.devpki.pki import ensure_dev_pki
from sigarchive.signatures import augment as cades
from tests.support.signing import make_signature

DOCUMENT = b"renewal policy"


def archived_container(tmp_path: Path) -> tuple[Container, DevTsa]:
    pki = ensure_dev_pki(tmp_path / "pki", port=8)
    tsa = DevTsa.from_pki(pki)
    digest = hashlib.sha256(DOCUMENT).digest()
    stamped = cades.add_signature_timestamp(make_signature(DOCUMENT), tsa)
    archived = cades.add_archive_timestamp_v3(stamped, lambda _alg: digest, tsa)
    container = Container(signatures=[Signature(enhanced=archived)])
    return container, tsa


def test_due_before_the_tsa_certificate_expires_or_at_once_for_a_weak_hash(
    tmp_path: Path,
) -> None:
    container, _tsa = archived_container(tmp_path)
    expiry, algorithm = newest_archive_timestamp(container.signatures[0].enhanced or b"")
    assert expiry is not None and algorithm == "sha256"
    margin = timedelta(days=90)
    normal = Enhancer(None, None, EnhancementPolicy(renewal_margin=margin))  # type: ignore[arg-type]
    assert normal.next_renewal(container) == expiry - margin
    distrusting = Enhancer(
        None,
        None,
        EnhancementPolicy(  # type: ignore[arg-type]
            renewal_margin=margin, weak_digests=frozenset({"sha256"})
        ),
    )
    due = distrusting.next_renewal(container)
    assert due is not None and due - utcnow() < timedelta(hours=1, minutes=1)
    assert Enhancer(None, None).next_renewal(Container(signatures=[])) is None  # type: ignore[arg-type]
