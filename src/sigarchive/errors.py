"""One exception root for the whole archive.

Every error the archive raises on purpose is an :class:`ArchiveError`. It carries a stable
machine-readable ``code`` (served as ``errorCode`` by the API) and a human ``description``
(served as ``errorDescription``). The HTTP status and the CLI exit code are class attributes
here, read in exactly one place each (``api/app.py`` and the CLI's error handler). Every exit
code any command returns is one :class:`ExitCode`, so "not found" and "could not be decided"
never share a number.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Every exit code of the ``sigarchive`` command."""

    #: Done; for a check (verify, audit verify, fixity): intact, or warnings only.
    OK = 0
    #: Something is broken (a check found damage: verify TOTAL-FAILED) or the command failed.
    FAILED = 1
    #: The input is unreadable or inconsistent (a file that is no signature, a bad option).
    INVALID_INPUT = 2
    #: A check could not be decided (verify INDETERMINATE: no trust anchor, data missing).
    INDETERMINATE = 3
    #: The object named does not exist.
    NOT_FOUND = 4
    #: The object exists already or is in a state that forbids the action.
    CONFLICT = 5


class ArchiveError(Exception):
    """Root of every error raised by sigarchive on purpose."""

    code: str = "InternalError"
    http_status: int = 500
    exit_code: ExitCode = ExitCode.FAILED

    def __init__(self, description: str, *, code: str | None = None) -> None:
        super().__init__(description)
        self.description = description
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return f"{self.code}: {self.description}"


class InvalidInput(ArchiveError):
    """The request or file is malformed or inconsistent (HTTP 400)."""

    code = "InvalidInput"
    http_status = 400
    exit_code = ExitCode.INVALID_INPUT


class SignatureRejected(InvalidInput):
    """An uploaded signature cannot be accepted (not CMS, does not verify, wrong document)."""

    code = "InvalidSignature"


class Unauthorized(ArchiveError):
    """No or unknown credentials (HTTP 401)."""

    code = "Unauthorized"
    http_status = 401


class Forbidden(ArchiveError):
    """The caller is known but may not do this (HTTP 403)."""

    code = "Forbidden"
    http_status = 403


class NotFound(ArchiveError):
    """The object does not exist or is not visible to the caller (HTTP 404)."""

    code = "NotFound"
    http_status = 404
    exit_code = ExitCode.NOT_FOUND


class Conflict(ArchiveError):
    """The object already exists or is in a state that forbids the action (HTTP 409)."""

    code = "Conflict"
    http_status = 409
    exit_code = ExitCode.CONFLICT


class PayloadTooLarge(ArchiveError):
    """The upload exceeds the configured maximum size (HTTP 413)."""

    code = "PayloadTooLarge"
    http_status = 413


class ServiceUnavailable(ArchiveError):
    """An external service (TSA, OCSP, storage) cannot be reached right now (HTTP 503)."""

    code = "ServiceUnavailable"
    http_status = 503
