"""``Result``: what every plugin call returns instead of raising.

The seed's plugins return ``Result<T>`` / ``Result`` (``Result.Failure<T>(message)``,
``Result.Success()``, ``IsFailure``) and must never throw; this is the Python form.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

T_co = TypeVar("T_co", covariant=True)
V = TypeVar("V")


class ResultError(Exception):
    """Raised by :attr:`Result.value` when asked for the value of a failure."""


@dataclass(frozen=True, slots=True)
class Result(Generic[T_co]):
    """Success with a value, or failure with a message."""

    _value: T_co | None
    error: str | None = None

    @staticmethod
    def ok(value: V) -> Result[V]:
        """A success carrying ``value`` (``Result.ok(None)`` for operations without one)."""
        return Result(value, None)

    @staticmethod
    def fail(message: str) -> Result[V]:
        """A failure; ``message`` says what went wrong, for an operator to read."""
        return Result(None, message or "failed without a message")

    @property
    def is_success(self) -> bool:
        return self.error is None

    @property
    def is_failure(self) -> bool:
        return self.error is not None

    @property
    def value(self) -> T_co:
        """The value of a success; :class:`ResultError` for a failure."""
        if self.error is not None:
            raise ResultError(self.error)
        return self._value  # type: ignore[return-value]

    def __repr__(self) -> str:
        if self.error is not None:
            return f"Result.fail({self.error!r})"
        return f"Result.ok({self._value!r})"
