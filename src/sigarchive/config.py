"""Settings, read once from the environment (prefix ``SIGARCHIVE_``).

Nothing here is a module-level global: the server, the workers and the CLI each build a
:class:`Settings` and pass it down.
"""

from __future__ import annotations

import os
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

CONFIG_FILE_VARIABLE = "SIGARCHIVE_CONFIG_FILE"
DEFAULT_CONFIG_FILE = "sigarchive.toml"


class Settings(BaseSettings):
    """Runtime configuration of one archive process.

    Read from ``SIGARCHIVE_*`` environment variables, then from a TOML file
    (``SIGARCHIVE_CONFIG_FILE``, default ``./sigarchive.toml`` when it exists) whose keys are
    the same names without the prefix, e.g. ``tsa_url = ["https://tsa1/", "https://tsa2/"]``.
    The environment wins over the file.
    """

    model_config = SettingsConfigDict(env_prefix="SIGARCHIVE_", extra="ignore")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = Path(os.environ.get(CONFIG_FILE_VARIABLE, DEFAULT_CONFIG_FILE))
        if CONFIG_FILE_VARIABLE in os.environ and not toml_file.is_file():
            raise ValueError(f"{CONFIG_FILE_VARIABLE}={toml_file} is not a file")
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=toml_file),
        )

    data_dir: Path = Field(default=Path("./sigarchive-data"))
    #: SQLAlchemy URL; empty means the embedded SQLite database under ``data_dir``.
    database_url: str = ""
    #: Largest accepted document (bytes); larger uploads get 413.
    max_upload_bytes: int = 64 * 1024**3
    #: Largest accepted signature or text field of an upload (bytes).
    max_signature_bytes: int = 64 * 1024**2
    #: Most signatures per upload.
    max_signatures: int = 64
    #: RFC 3161 TSA URLs (space- or comma-separated) tried in order, for failover.
    #: Empty: the development PKI's TSA (created and served on first start).
    tsa_url: str = ""
    #: Create and serve the development PKI when no TSA is configured.
    devpki: bool = True
    #: Host name put into the development PKI's certificate URLs (a name, not an IP).
    devpki_host: str = "localhost"
    #: Worker loops inside `sigarchive serve` (0: run `sigarchive worker` separately).
    workers: int = 1
    #: Seconds between polls when a worker finds nothing to do.
    poll_interval: float = 1.0
    #: Lease length in seconds: a killed worker's container is taken over after this.
    lease_seconds: int = 300
    #: Hash algorithm of the time-stamps the archive requests.
    timestamp_algorithm: str = "sha256"
    #: Renew archive time-stamps this many days before their TSA certificate expires.
    renewal_margin_days: int = 180
    #: Seconds a container may wait for an unreachable TSA/OCSP before a problem is recorded.
    problem_after_seconds: int = 3600
    #: First retry delay in seconds (doubled per attempt, capped at one hour).
    retry_first_seconds: float = 5.0
    #: Seconds to keep waiting for unreachable OCSP/CRL services before archiving without
    #: their answers (the report then says INDETERMINATE and a problem is recorded).
    revocation_patience_seconds: int = 3600
    #: Timeout in seconds of each TSA, OCSP or CRL request.
    network_timeout: float = 10.0
    #: Largest attached (enveloping) signature sent as Content without Signs.
    max_attached_bytes: int = 512 * 1024**2
    #: Time zone for date-only ArchiveDate values and for dates in responses (IANA name).
    timezone: str = "UTC"
    #: The plugins' configuration (the seed's plugin-config.json); empty:
    #: ``<data_dir>/plugins/plugin-config.json``. A missing file means no plugins.
    plugin_config: Path | None = None

    @field_validator("tsa_url", mode="before")
    @classmethod
    def _url_list(cls, value: object) -> object:
        if isinstance(value, list):
            return " ".join(str(url) for url in value)
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @field_validator(
        "max_upload_bytes", "max_signature_bytes", "max_signatures", "max_attached_bytes"
    )
    @classmethod
    def _positive(cls, value: int) -> int:
        if value <= 0:
            raise ValueError("must be positive")
        return value

    @property
    def resolved_database_url(self) -> str:
        """The configured database URL, or the embedded SQLite file."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'sigarchive.sqlite3').resolve()}"

    @property
    def tsa_urls(self) -> list[str]:
        return [url for url in self.tsa_url.replace(",", " ").split() if url]

    @property
    def devpki_dir(self) -> Path:
        return self.data_dir / "devpki"

    @property
    def spool_dir(self) -> Path:
        """Where uploads are streamed to before they are accepted."""
        return self.data_dir / "spool"

    @property
    def documents_dir(self) -> Path:
        """Files of the built-in ``local`` document storage."""
        return self.data_dir / "documents"

    @property
    def plugin_config_path(self) -> Path:
        return self.plugin_config or self.data_dir / "plugins" / "plugin-config.json"

    def prepare_directories(self) -> None:
        """Create the data directory layout (idempotent)."""
        for directory in (self.data_dir, self.spool_dir, self.documents_dir):
            directory.mkdir(parents=True, exist_ok=True)
