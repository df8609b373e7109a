"""``plugin-config.json``: which plugins to load, in the seed's shape.

```json
{"Plugins": {
  "DocumentStorage": [{"IsEnabled": true, "ReadOnly": false, "PluginName": "filesystem_01",
                       "AssemblyName": "filesystem",
                       "Parameters": {"DocumentsFolderPath": "/srv/documents"}}],
  "SanConnector":    [{"IsEnabled": true, "PluginName": "SanConnector_01",
                       "AssemblyName": "filesystem", "Parameters": {"Folder": "/srv/san"}}]}}
```

Keys are matched case-insensitively, as .NET configuration binding does. ``PluginName`` is
unique and non-empty (the seed's rule); ``AssemblyName`` names ``module:Class`` or an entry
point (see :mod:`sigarchive.plugins.loader`). Every mistake is refused with a message naming
the file and the entry, e.g. ``plugin-config.json: Plugins.DocumentStorage[1] ("s3_01"):
AssemblyName is required``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from sigarchive.plugins.protocols import Parameters, PluginConfigError

#: Document storage names the archive itself provides; configured plugins may not take them.
DATABASE = "database"
LOCAL = "local"
RESERVED_NAMES = frozenset({DATABASE, LOCAL})
MAX_NAME = 200


class PluginKind(StrEnum):
    """The two sections of ``Plugins`` (their names are the seed's)."""

    DOCUMENT_STORAGE = "DocumentStorage"
    POST_ENHANCEMENT = "SanConnector"


_ENTRY_KEYS = {
    PluginKind.DOCUMENT_STORAGE: (
        "IsEnabled",
        "ReadOnly",
        "PluginName",
        "AssemblyName",
        "Parameters",
    ),
    PluginKind.POST_ENHANCEMENT: ("IsEnabled", "PluginName", "AssemblyName", "Parameters"),
}


@dataclass(frozen=True)
class PluginEntry:
    """One configured plugin."""

    kind: PluginKind
    index: int
    name: str
    assembly: str
    enabled: bool
    read_only: bool
    parameters: Parameters
    source: str = "plugin-config.json"

    @property
    def label(self) -> str:
        """Where the entry is, for messages: ``file: Plugins.Section[i] ("name")``."""
        return f'{self.source}: Plugins.{self.kind.value}[{self.index}] ("{self.name}")'


@dataclass(frozen=True)
class PluginConfig:
    """Both sections of a ``plugin-config.json`` (empty when the file does not exist)."""

    document_storage: tuple[PluginEntry, ...] = ()
    post_enhancement: tuple[PluginEntry, ...] = ()
    path: Path | None = None


def load_plugin_config(path: Path) -> PluginConfig:
    """Read and validate ``path``; a missing file means no plugins."""
    if not path.exists():
        return PluginConfig(path=None)
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError) as exc:
        raise PluginConfigError(f"{path}: cannot be read ({exc})") from exc
    except json.JSONDecodeError as exc:
        raise PluginConfigError(
            f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from exc
    config = parse_plugin_config(data, str(path))
    return PluginConfig(config.document_storage, config.post_enhancement, path)


def parse_plugin_config(data: Any, source: str = "plugin-config.json") -> PluginConfig:
    """Validate the decoded JSON of a ``plugin-config.json``."""
    top = _object(data, source, source)
    _only(top, ("Plugins",), source)
    plugins_value = _get(top, "Plugins")
    if plugins_value is None:
        return PluginConfig()
    plugins = _object(plugins_value, f"{source}: Plugins", source)
    _only(plugins, tuple(kind.value for kind in PluginKind), f"{source}: Plugins")
    sections: dict[PluginKind, tuple[PluginEntry, ...]] = {}
    for kind in PluginKind:
        where = f"{source}: Plugins.{kind.value}"
        raw = _get(plugins, kind.value)
        if raw is None:
            sections[kind] = ()
            continue
        if not isinstance(raw, list):
            raise PluginConfigError(f"{where} must be a list of plugin entries")
        entries = tuple(_entry(kind, index, item, source) for index, item in enumerate(raw))
        seen: dict[str, PluginEntry] = {}
        for entry in entries:
            folded = entry.name.casefold()
            if folded in seen:
                raise PluginConfigError(
                    f"{entry.label}: PluginName must be unique; "
                    f"Plugins.{kind.value}[{seen[folded].index}] has the same name"
                )
            seen[folded] = entry
        sections[kind] = entries
    return PluginConfig(
        sections[PluginKind.DOCUMENT_STORAGE], sections[PluginKind.POST_ENHANCEMENT]
    )


def _entry(kind: PluginKind, index: int, item: Any, source: str) -> PluginEntry:
    where = f"{source}: Plugins.{kind.value}[{index}]"
    entry = _object(item, where, source)
    name_value = _get(entry, "PluginName")
    if isinstance(name_value, str) and name_value.strip():
        where = f'{where} ("{name_value.strip()}")'
    _only(entry, _ENTRY_KEYS[kind], where)
    name = _string(name_value, "PluginName", where)
    if ":" in name or len(name) > MAX_NAME or any(c.isspace() for c in name):
        raise PluginConfigError(
            f"{where}: PluginName must be at most {MAX_NAME} characters without ':' or spaces"
        )
    if kind is PluginKind.DOCUMENT_STORAGE and name.casefold() in RESERVED_NAMES:
        raise PluginConfigError(
            f"{where}: PluginName {name!r} is reserved for the archive's own storage "
            f"({', '.join(sorted(RESERVED_NAMES))})"
        )
    assembly = _string(_get(entry, "AssemblyName"), "AssemblyName", where)
    enabled_value = _get(entry, "IsEnabled")
    if enabled_value is None:
        raise PluginConfigError(f"{where}: IsEnabled is required (true or false)")
    enabled = _boolean(enabled_value, "IsEnabled", where)
    read_only_value = _get(entry, "ReadOnly")
    read_only = False if read_only_value is None else _boolean(read_only_value, "ReadOnly", where)
    parameters_value = _get(entry, "Parameters")
    parameters: dict[str, str] = {}
    if parameters_value is not None:
        for key, value in _object(parameters_value, f"{where}: Parameters", source).items():
            parameters[key] = _parameter(value, key, where)
    return PluginEntry(
        kind=kind,
        index=index,
        name=name,
        assembly=assembly,
        enabled=enabled,
        read_only=read_only,
        parameters=Parameters(parameters, entry=where),
        source=source,
    )


def _object(value: Any, where: str, source: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PluginConfigError(f"{where} must be a JSON object")
    return value


def _get(obj: dict[str, Any], key: str) -> Any:
    """A key's value, matching the name case-insensitively."""
    for candidate, value in obj.items():
        if candidate.casefold() == key.casefold():
            return value
    return None


def _only(obj: dict[str, Any], known: tuple[str, ...], where: str) -> None:
    folded = {k.casefold() for k in known}
    unknown = [key for key in obj if key.casefold() not in folded]
    if unknown:
        raise PluginConfigError(
            f"{where}: unknown key {unknown[0]!r} (expected {', '.join(known)})"
        )
    seen: set[str] = set()
    for key in obj:
        if key.casefold() in seen:
            raise PluginConfigError(f"{where}: key {key!r} is given twice (keys ignore case)")
        seen.add(key.casefold())


def _string(value: Any, name: str, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise PluginConfigError(f"{where}: {name} is required and must be a non-empty string")
    return value.strip()


def _boolean(value: Any, name: str, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise PluginConfigError(f"{where}: {name} must be true or false, not {value!r}")


def _parameter(value: Any, key: str, where: str) -> str:
    """Parameters are strings (``Dictionary<string, string>``); numbers and booleans are
    accepted and turned into their JSON text, as .NET configuration does."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    raise PluginConfigError(f"{where}: parameter {key!r} must be a string, not {value!r}")
