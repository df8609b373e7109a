"""The archive's stable vocabulary: container statuses and save types (the client API contract).

The numbers are part of the client API (integrations store them); never renumber.
Status 4 = "Архивное хранение" comes from the seed; the others are ours.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class ContainerStatus(IntEnum):
    RECEIVED = 1
    PROCESSING = 2
    ERROR = 3
    ARCHIVED = 4
    STORAGE_PERIOD_ENDED = 5


@dataclass(frozen=True)
class StatusName:
    status: ContainerStatus
    code: str
    name_ru: str
    name_en: str


STATUS_NAMES: tuple[StatusName, ...] = (
    StatusName(ContainerStatus.RECEIVED, "Received", "Принят", "Received"),
    StatusName(ContainerStatus.PROCESSING, "Processing", "На усовершенствовании", "Being enhanced"),
    StatusName(ContainerStatus.ERROR, "Error", "Ошибка", "Error"),
    StatusName(ContainerStatus.ARCHIVED, "Archived", "Архивное хранение", "Archived"),
    StatusName(
        ContainerStatus.STORAGE_PERIOD_ENDED,
        "StoragePeriodEnded",
        "Хранение завершено",
        "Storage period ended",
    ),
)


class SaveType(IntEnum):
    """How long a container is kept (the seed's example: 1 = Temporary)."""

    TEMPORARY = 1
    PERMANENT = 2

    @property
    def api_name(self) -> str:
        return "Temporary" if self is SaveType.TEMPORARY else "Permanent"

    @classmethod
    def parse(cls, value: str) -> SaveType:
        """Accept the name (any case) or the number, as the seed's Swagger form does."""
        text = value.strip()
        for member in cls:
            if text.lower() == member.api_name.lower() or text == str(int(member)):
                return member
        raise ValueError(f"SaveType must be Temporary (1) or Permanent (2), not {value!r}")
