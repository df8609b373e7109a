"""Built-in document storage on S3-compatible object storage (entry point ``s3``), with boto3.

Parameters (case-insensitive): ``Bucket`` (required), ``EndpointUrl`` (MinIO, Ceph …; empty
for AWS), ``Prefix`` (key prefix, e.g. ``archive/``), ``Region``, ``AccessKeyId`` and
``SecretAccessKey`` (empty: boto3's usual credential chain), and for tuning ``PartSizeMiB``
(8; at least 5), ``Concurrency`` (parts in flight, 4), ``Retries`` (botocore's attempts per
request, 5), ``PatienceSeconds`` (how long an upload waits for an unreachable server, 30),
``UploadAttempts`` (2), ``ConnectTimeout`` and ``ReadTimeout`` (seconds, 10 and 60).

A document larger than one part goes up as a multipart upload, read from the stream one part
at a time with at most ``Concurrency`` parts in memory, so memory stays flat whatever the
size. S3 makes an object visible only when the upload completes, so a failed save leaves
nothing at the key; the incomplete upload is aborted. While the server cannot be reached (it
restarts), each request of an upload waits and tries again, for ``PatienceSeconds``; a server
that keeps unfinished uploads across a restart then simply receives the next part. If the
upload still fails — the server lost it (``NoSuchUpload``), or answered errors — the whole
upload starts again from the beginning of the document, ``UploadAttempts`` times in all.
"""

from __future__ import annotations

import base64
import contextlib
import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from sigarchive.plugins.protocols import ContainerInfo, Document, Parameters
from sigarchive.plugins.result import Result

MIB = 1024 * 1024
MIN_PART = 5 * MIB  # S3's smallest part but the last
#: The server cannot be reached (down, restarting): worth waiting for.
UNREACHABLE = (
    EndpointConnectionError,
    ConnectionClosedError,
    ConnectTimeoutError,
    ReadTimeoutError,
)
T = TypeVar("T")


class _UploadLost(Exception):
    """The server no longer knows the multipart upload (it restarted without its state)."""


def _describe(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'error')}: {error.get('Message', exc)}"
    return f"{type(exc).__name__}: {exc}"


def _code(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


class S3DocumentStorage:
    """Documents as objects ``<Prefix><container id>`` in one bucket."""

    def __init__(self) -> None:
        self.client: Any = None
        self.bucket = ""
        self.prefix = ""
        self.part_size = 8 * MIB
        self.concurrency = 4
        self.attempts = 2
        self.patience = 30.0

    def initialize(self, parameters: Mapping[str, str]) -> None:
        params = parameters if isinstance(parameters, Parameters) else Parameters(parameters)
        self.bucket = params.require("Bucket")
        self.prefix = params.get("Prefix", "").lstrip("/")
        self.part_size = params.integer("PartSizeMiB", 8, minimum=5) * MIB
        self.concurrency = params.integer("Concurrency", 4, minimum=1)
        self.attempts = params.integer("UploadAttempts", 2, minimum=1)
        self.patience = float(params.integer("PatienceSeconds", 30, minimum=0))
        endpoint = params.get("EndpointUrl", "").strip() or None
        config = Config(
            retries={"max_attempts": params.integer("Retries", 5, minimum=1), "mode": "standard"},
            connect_timeout=params.integer("ConnectTimeout", 10, minimum=1),
            read_timeout=params.integer("ReadTimeout", 60, minimum=1),
            s3={"addressing_style": "path" if endpoint else "auto"},
            max_pool_connections=max(10, self.concurrency + 2),
        )
        self.client = boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint,
            region_name=params.get("Region", "").strip() or "us-east-1",
            aws_access_key_id=params.get("AccessKeyId", "").strip() or None,
            aws_secret_access_key=params.get("SecretAccessKey", "").strip() or None,
            config=config,
        )
        self.client.head_bucket(Bucket=self.bucket)  # unreachable or missing: not initialised

    def key(self, container_id: str) -> str:
        return f"{self.prefix}{container_id}"

    def _patiently(self, request: Callable[[], T]) -> T:
        """One request of an upload; while the server is unreachable, wait and try again."""
        deadline = time.monotonic() + self.patience
        delay = 0.25
        while True:
            try:
                return request()
            except UNREACHABLE:
                if time.monotonic() + delay > deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 5.0)

    # ---- save ---------------------------------------------------------------------------

    def save(self, container: ContainerInfo) -> Result[str]:
        document = container.document
        if document is None:
            return Result.fail("no document to save")
        key = self.key(container.id)
        metadata = {"container-id": container.id}
        if "sha256" in container.digests:
            metadata["sha256"] = base64.b64encode(container.digests["sha256"]).decode()
        extra = {
            "ContentType": container.document_type or "application/octet-stream",
            "Metadata": metadata,
        }
        for attempt in range(1, self.attempts + 1):
            try:
                sent = self._upload(key, document, extra)
            except (_UploadLost, ClientError, BotoCoreError) as exc:
                if attempt < self.attempts and document.rewind():
                    continue  # start again from the beginning (the spool file is seekable)
                if isinstance(exc, _UploadLost):
                    return Result.fail(f"Upload of s3://{self.bucket}/{key} was lost by the server")
                return Result.fail(f"Unable to upload s3://{self.bucket}/{key}: {_describe(exc)}")
            except OSError as exc:  # reading the document failed: trying again will not help
                return Result.fail(f"Unable to upload s3://{self.bucket}/{key}: {_describe(exc)}")
            if container.document_size and sent != container.document_size:
                self._delete_quietly(key)
                return Result.fail(
                    f"Sent {sent} bytes of a {container.document_size}-byte document"
                )
            return Result.ok(key)
        return Result.fail(f"Unable to upload s3://{self.bucket}/{key}")  # pragma: no cover

    def _upload(self, key: str, document: Document, extra: dict[str, Any]) -> int:
        first = self._read_part(document)
        if len(first) < self.part_size:  # fits in one request
            self._patiently(
                lambda: self.client.put_object(Bucket=self.bucket, Key=key, Body=first, **extra)
            )
            return len(first)
        upload_id = self._patiently(
            lambda: self.client.create_multipart_upload(Bucket=self.bucket, Key=key, **extra)
        )["UploadId"]
        try:
            return self._upload_parts(key, upload_id, first, document)
        except BaseException:
            self._abort_quietly(key, upload_id)
            raise

    def _read_part(self, document: Document) -> bytes:
        """Up to one part of the stream (streams may return less than asked: keep reading)."""
        pieces: list[bytes] = []
        wanted = self.part_size
        while wanted > 0:
            piece = document.read(min(wanted, MIB))
            if not piece:
                break
            pieces.append(piece)
            wanted -= len(piece)
        return b"".join(pieces)

    def _upload_parts(self, key: str, upload_id: str, first: bytes, document: Document) -> int:
        parts: list[dict[str, Any]] = []
        pending: deque[Future[dict[str, Any]]] = deque()
        sent = 0
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="s3-part") as pool:
            data, number = first, 1
            try:
                while data:
                    if len(pending) >= self.concurrency:  # bound the parts held in memory
                        parts.append(pending.popleft().result())
                    pending.append(pool.submit(self._upload_part, key, upload_id, number, data))
                    sent += len(data)
                    number += 1
                    data = self._read_part(document)
                while pending:
                    parts.append(pending.popleft().result())
            finally:
                for future in pending:
                    future.cancel()
        try:
            self._patiently(
                lambda: self.client.complete_multipart_upload(
                    Bucket=self.bucket,
                    Key=key,
                    UploadId=upload_id,
                    MultipartUpload={"Parts": parts},
                )
            )
        except ClientError as exc:
            if _code(exc) == "NoSuchUpload":
                raise _UploadLost() from exc
            raise
        return sent

    def _upload_part(self, key: str, upload_id: str, number: int, data: bytes) -> dict[str, Any]:
        try:
            response = self._patiently(
                lambda: self.client.upload_part(
                    Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=data
                )
            )
        except ClientError as exc:
            if _code(exc) == "NoSuchUpload":
                raise _UploadLost() from exc
            raise
        return {"PartNumber": number, "ETag": response["ETag"]}

    def _abort_quietly(self, key: str, upload_id: str) -> None:
        # gone already, or the server is down: a bucket lifecycle rule cleans what it kept
        with contextlib.suppress(ClientError, BotoCoreError):
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)

    def _delete_quietly(self, key: str) -> None:
        with contextlib.suppress(ClientError, BotoCoreError):
            self.client.delete_object(Bucket=self.bucket, Key=key)

    # ---- get, delete --------------------------------------------------------------------

    def get(self, location: str) -> Result[Document]:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=location)
        except ClientError as exc:
            if _code(exc) in ("NoSuchKey", "404"):
                return Result.fail(f"Object not found: s3://{self.bucket}/{location}")
            return Result.fail(f"Unable to get s3://{self.bucket}/{location}: {_describe(exc)}")
        except BotoCoreError as exc:
            return Result.fail(f"Unable to get s3://{self.bucket}/{location}: {_describe(exc)}")
        return Result.ok(Document(response["Body"], int(response["ContentLength"])))

    def delete(self, location: str) -> Result[None]:
        try:  # S3 answers 204 for a key that is already gone
            self.client.delete_object(Bucket=self.bucket, Key=location)
        except (ClientError, BotoCoreError) as exc:
            return Result.fail(f"Unable to delete s3://{self.bucket}/{location}: {_describe(exc)}")
        return Result.ok(None)

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
