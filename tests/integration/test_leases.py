"""Work leases on both backends: no container is worked on by two workers at once."""

from __future__ import annotations

import os
import socket
import threading
import uuid
from datetime import timedelta

import pytest

from sigarchive.archive.accounts import create_storage, create_user
from sigarchive.archive.leases import (
    LeaseLost,
    claim,
    extend,
    hold,
    release,
    release_orphaned_leases,
)
from sigarchive.db.engine import Database
from sigarchive.db.models import Container, utcnow
from sigarchive.domain import ContainerStatus, SaveType
from sigarchive.records.audit import Actor


def add_containers(db: Database, count: int) -> list[str]:
    with db.session() as session:
        storage = create_storage(session, f"s-{uuid.uuid4().hex[:6]}", Actor.system())
        user, _ = create_user(session, f"u-{uuid.uuid4().hex[:6]}", [storage.id], Actor.system())
        ids = []
        now = utcnow()
        for n in range(count):
            container_id = str(uuid.uuid4())
            session.add(
                Container(
                    id=container_id,
                    storage_id=storage.id,
                    source_system_id=user.id,
                    name=f"c{n}",
                    save_type=int(SaveType.PERMANENT),
                    document_type="text/plain",
                    document_size=1,
                    document_digests={},
                    status=int(ContainerStatus.RECEIVED),
                    created_at=now,
                    modified_at=now,
                    next_attempt_at=now - timedelta(seconds=1),
                )
            )
            ids.append(container_id)
    return ids


def test_racing_workers_never_share_a_container(database: Database) -> None:
    ids = add_containers(database, 60)
    claimed: dict[str, list[str]] = {}
    lock = threading.Lock()

    def worker(name: str) -> None:
        while True:
            leases = claim(database, name, [ContainerStatus.RECEIVED], limit=3)
            if not leases:
                return
            with lock:
                for lease in leases:
                    claimed.setdefault(lease.container_id, []).append(name)

    threads = [threading.Thread(target=worker, args=(f"w{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(claimed) == sorted(ids)
    assert all(len(owners) == 1 for owners in claimed.values()), claimed


def test_an_expired_lease_is_taken_over_and_the_old_holder_is_fenced(database: Database) -> None:
    [container_id] = add_containers(database, 1)
    now = utcnow()
    [first] = claim(
        database, "killed", [ContainerStatus.RECEIVED], lease_for=timedelta(seconds=30), now=now
    )
    assert claim(database, "other", [ContainerStatus.RECEIVED], now=now) == []
    later = now + timedelta(seconds=31)
    [second] = claim(database, "other", [ContainerStatus.RECEIVED], now=later)
    assert second.container_id == container_id
    with pytest.raises(LeaseLost), database.session() as session:
        hold(session, first, now=later)
    with database.session() as session:
        container = hold(session, second, now=later)
        container.status = int(ContainerStatus.ARCHIVED)
        release(session, second)
    with database.session() as session:
        stored = session.get(Container, container_id)
        assert stored is not None
        assert stored.status == ContainerStatus.ARCHIVED and stored.lease_owner is None


def test_a_held_lease_can_be_extended(database: Database) -> None:
    add_containers(database, 1)
    [lease] = claim(database, "w", [ContainerStatus.RECEIVED], lease_for=timedelta(seconds=5))
    longer = extend(database, lease, timedelta(hours=1))
    assert longer.until > lease.until
    assert (
        claim(database, "x", [ContainerStatus.RECEIVED], now=lease.until + timedelta(seconds=1))
        == []
    )


def test_leases_of_dead_workers_on_this_host_are_freed_at_start(database: Database) -> None:
    add_containers(database, 2)
    host = socket.gethostname()
    [dead] = claim(
        database, f"signature-updater@{host}:999999999:dead", [ContainerStatus.RECEIVED], limit=1
    )
    [alive] = claim(
        database,
        f"signature-updater@{host}:{os.getpid()}:live",
        [ContainerStatus.RECEIVED],
        limit=1,
    )
    assert release_orphaned_leases(database, host) == 1
    with database.session() as session:
        assert session.get(Container, dead.container_id).lease_owner is None  # type: ignore[union-attr]
        assert session.get(Container, alive.container_id).lease_owner == alive.owner  # type: ignore[union-attr]
