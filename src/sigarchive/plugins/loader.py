"""Finding, building and calling plugins; the registry the archive asks for them by name.

``AssemblyName`` (the seed names a .NET DLL there) is, for Python, either ``module:Class``
(``my_company.storage:TapeStorage``) or the name of an entry point in the group
``sigarchive.document_storage`` / ``sigarchive.post_enhancement`` — the built-ins are entry
points ``filesystem`` and ``s3`` (storage) and ``filesystem`` (post-enhancement), declared in
``pyproject.toml``, and any installed package can add its own.

Every plugin call goes through a handle that turns an exception, or a return value that is not
a :class:`Result`, into a failure Result naming the plugin: a plugin never crashes a worker or
a request (the seed's rule is that plugins do not throw; this makes it so).

Locations stored in ``containers.document_location`` name the plugin: ``<PluginName>:<the
plugin's own location>``, e.g. ``database:1b4e…``, ``s3_01:archive/1b4e…``. Two storages
are always there: ``database`` (the default of the Archive CA subsystem: the document in the
archive's database) and ``local`` (files under ``<data>/documents``; what earlier versions
wrote, and selectable by name).
"""

from __future__ import annotations

import inspect
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import import_module
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, TypeVar

from sigarchive.db.engine import Database
from sigarchive.errors import InvalidInput, NotFound, ServiceUnavailable
from sigarchive.plugins.config import (
    DATABASE,
    LOCAL,
    PluginConfig,
    PluginEntry,
    PluginKind,
)
from sigarchive.plugins.protocols import (
    ContainerInfo,
    Document,
    DocumentStoragePlugin,
    Parameters,
    PluginConfigError,
    PostEnhancementPlugin,
)
from sigarchive.plugins.result import Result

log = logging.getLogger("sigarchive.plugins")

GROUPS = {
    PluginKind.DOCUMENT_STORAGE: "sigarchive.document_storage",
    PluginKind.POST_ENHANCEMENT: "sigarchive.post_enhancement",
}
#: A plugin whose initialize() failed is tried again on use, at most this often.
REINITIALIZE_AFTER = 30.0

T = TypeVar("T")


def resolve_class(kind: PluginKind, assembly: str, where: str) -> type[Any]:
    """The class ``AssemblyName`` names: ``module:Class`` or an entry point of ``kind``."""
    group = GROUPS[kind]
    if ":" in assembly:
        module_name, _, qualname = assembly.partition(":")
        try:
            target: Any = import_module(module_name)
            for part in qualname.split("."):
                target = getattr(target, part)
        except Exception as exc:
            raise PluginConfigError(
                f"{where}: AssemblyName {assembly!r} cannot be imported "
                f"({type(exc).__name__}: {exc})"
            ) from exc
    else:
        found = list(entry_points(group=group, name=assembly))
        if not found:
            installed = sorted({ep.name for ep in entry_points(group=group)})
            raise PluginConfigError(
                f"{where}: AssemblyName {assembly!r} is neither 'module:Class' nor an entry "
                f"point of group {group} (installed: {', '.join(installed) or 'none'})"
            )
        try:
            target = found[0].load()
        except Exception as exc:
            raise PluginConfigError(
                f"{where}: entry point {assembly!r} of {group} cannot be loaded "
                f"({type(exc).__name__}: {exc})"
            ) from exc
    if not inspect.isclass(target):
        raise PluginConfigError(f"{where}: AssemblyName {assembly!r} is not a class")
    return target


def instantiate(kind: PluginKind, cls: type[Any], where: str) -> Any:
    """Build the plugin with no arguments (as the seed does) and check its methods."""
    try:
        plugin = cls()
    except Exception as exc:
        raise PluginConfigError(
            f"{where}: {cls.__qualname__}() failed ({type(exc).__name__}: {exc}); a plugin "
            "class is built without arguments and configured by initialize(parameters)"
        ) from exc
    needed = (
        ("initialize", "save", "get", "delete")
        if kind is PluginKind.DOCUMENT_STORAGE
        else ("initialize", "process")
    )
    lacking = [name for name in needed if not callable(getattr(plugin, name, None))]
    if lacking:
        raise PluginConfigError(
            f"{where}: {cls.__qualname__} is not a {kind.value} plugin "
            f"(missing {', '.join(lacking)})"
        )
    if kind is PluginKind.POST_ENHANCEMENT and not inspect.iscoroutinefunction(plugin.process):
        raise PluginConfigError(f"{where}: {cls.__qualname__}.process must be 'async def'")
    return plugin


@dataclass
class PluginHandle:
    """A plugin with its configuration; initialisation and every call made safe."""

    name: str
    assembly: str
    plugin: Any
    parameters: Mapping[str, str]
    enabled: bool = True
    read_only: bool = False
    builtin: bool = False
    initialised: bool = False
    init_error: str | None = None
    _last_init: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def initialize(self) -> None:
        """Call ``initialize``; a configuration error propagates, anything else is kept."""
        with self._lock:
            self._last_init = time.monotonic()
            try:
                self.plugin.initialize(self.parameters)
            except PluginConfigError:
                raise
            except Exception as exc:
                self.initialised = False
                self.init_error = f"{type(exc).__name__}: {exc}"
                log.warning("plugin %s did not initialise: %s", self.name, self.init_error)
                return
            self.initialised = True
            self.init_error = None

    def ready(self) -> str | None:
        """None when usable; else why not (re-initialising first if it is time)."""
        if not self.enabled:
            return f"plugin {self.name!r} is disabled (IsEnabled=false)"
        if not self.initialised and time.monotonic() - self._last_init >= REINITIALIZE_AFTER:
            try:
                self.initialize()
            except PluginConfigError as exc:
                self.init_error = exc.description
        if not self.initialised:
            return f"plugin {self.name!r} is not initialised: {self.init_error}"
        return None

    def _guard(self, operation: str, call: Callable[[], Any], expect: type | None) -> Result[Any]:
        problem = self.ready()
        if problem is not None:
            return Result.fail(problem)
        try:
            result = call()
        except Exception as exc:
            log.exception("plugin %s raised in %s", self.name, operation)
            return Result.fail(
                f"plugin {self.name!r} raised in {operation}: {type(exc).__name__}: {exc}"
            )
        return self._check(operation, result, expect)

    def _check(self, operation: str, result: Any, expect: type | None) -> Result[Any]:
        if not isinstance(result, Result):
            return Result.fail(
                f"plugin {self.name!r} returned {type(result).__name__} from {operation}, "
                "not a Result"
            )
        if result.is_failure:
            return Result.fail(f"plugin {self.name!r}: {result.error}")
        if expect is not None and not isinstance(result.value, expect):
            return Result.fail(
                f"plugin {self.name!r} returned {type(result.value).__name__} from "
                f"{operation}, not {expect.__name__}"
            )
        return result


@dataclass
class StorageHandle(PluginHandle):
    """A document storage plugin, called safely."""

    def save(self, container: ContainerInfo) -> Result[str]:
        if self.read_only:
            return Result.fail(f"plugin {self.name!r} is ReadOnly: it serves get only")
        result: Result[str] = self._guard("save", lambda: self.plugin.save(container), str)
        if result.is_success and not result.value:
            return Result.fail(f"plugin {self.name!r} returned an empty location from save")
        return result

    def get(self, location: str) -> Result[Document]:
        result: Result[Document] = self._guard("get", lambda: self.plugin.get(location), Document)
        return result

    def delete(self, location: str) -> Result[None]:
        if self.read_only:
            return Result.fail(f"plugin {self.name!r} is ReadOnly: it cannot delete")
        result: Result[None] = self._guard("delete", lambda: self.plugin.delete(location), None)
        return result


@dataclass
class PostEnhancementHandle(PluginHandle):
    """A post-enhancement plugin, called safely."""

    async def process(self, container: ContainerInfo) -> Result[None]:
        problem = self.ready()
        if problem is not None:
            return Result.fail(problem)
        try:
            result = await self.plugin.process(container)
        except Exception as exc:
            log.exception("plugin %s raised in process", self.name)
            return Result.fail(
                f"plugin {self.name!r} raised in process: {type(exc).__name__}: {exc}"
            )
        checked: Result[None] = self._check("process", result, None)
        return checked


def split_location(location: str) -> tuple[str, str]:
    """``"name:plugin location"`` → (name, plugin location). A location without a plugin name
    is one the first versions wrote under ``<data>/documents`` (the ``local`` storage)."""
    name, separator, rest = location.partition(":")
    if not separator:
        return LOCAL, location
    return name, rest


@dataclass
class PluginRegistry:
    """Every plugin of this process, by name; what the archive asks for storages."""

    storages: dict[str, StorageHandle] = field(default_factory=dict)
    post_enhancement: list[PostEnhancementHandle] = field(default_factory=list)
    config_path: Path | None = None

    # ---- document storage ---------------------------------------------------------------

    def for_upload(self, name: str | None) -> StorageHandle:
        """The storage an upload retains its document in (``ArchiveCaPluginName``; none:
        the database). Unknown, disabled and ReadOnly names are the caller's mistake (400)."""
        handle = self.storages.get(name or DATABASE)
        if handle is None or not handle.enabled:
            known = ", ".join(n for n, h in sorted(self.storages.items()) if h.enabled)
            raise InvalidInput(
                f"Unknown ArchiveCaPluginName {name!r}: no enabled document storage plugin of "
                f"that name (configured: {known})",
                code="UnknownPlugin",
            )
        if handle.read_only:
            raise InvalidInput(
                f"Document storage plugin {name!r} is ReadOnly: it serves documents stored "
                "earlier but takes no new ones",
                code="PluginReadOnly",
            )
        return handle

    def storage_of(self, location: str) -> tuple[StorageHandle, str]:
        """The handle that keeps ``location`` and the plugin's own location."""
        name, inner = split_location(location)
        handle = self.storages.get(name)
        if handle is None:
            raise ServiceUnavailable(
                f"The document is kept by plugin {name!r}, which is not configured "
                "(add it to plugin-config.json, ReadOnly if it takes no new documents)",
                code="PluginNotConfigured",
            )
        return handle, inner

    def open_document(self, location: str) -> Document:
        """The retained document at ``location`` as a stream (the caller closes it)."""
        handle, inner = self.storage_of(location)
        result = handle.get(inner)
        if result.is_failure:
            raise ServiceUnavailable(
                f"The retained document cannot be read: {result.error}",
                code="DocumentUnavailable",
            )
        return result.value

    def delete_document(self, location: str) -> Result[None]:
        try:
            handle, inner = self.storage_of(location)
        except ServiceUnavailable as exc:
            return Result.fail(exc.description)
        return handle.delete(inner)

    def known(self, name: str) -> StorageHandle:
        handle = self.storages.get(name)
        if handle is None:
            raise NotFound(f"No document storage plugin named {name!r}", code="UnknownPlugin")
        return handle

    def all_handles(self) -> list[PluginHandle]:
        return [*self.storages.values(), *self.post_enhancement]

    def close(self) -> None:
        for handle in self.all_handles():
            close = getattr(handle.plugin, "close", None)
            if callable(close):
                try:
                    close()
                except Exception:
                    log.exception("closing plugin %s failed", handle.name)


def check_plugin_config(config: PluginConfig) -> None:
    """Refuse a configuration whose enabled entries name no usable plugin class (before a
    server starts; parameters are checked when the plugins initialise)."""
    for entry in (*config.document_storage, *config.post_enhancement):
        if entry.enabled:
            instantiate(
                entry.kind, resolve_class(entry.kind, entry.assembly, entry.label), entry.label
            )


def build_registry(
    config: PluginConfig,
    *,
    db: Database,
    documents_dir: Path,
    initialize: bool = True,
) -> PluginRegistry:
    """Import and build every enabled plugin of ``config``, then initialise them.

    A bad entry (unknown AssemblyName, not a plugin class, bad parameters) raises
    :class:`PluginConfigError`; a plugin whose ``initialize`` fails otherwise is kept, marked
    not initialised, and tried again when used.
    """
    from sigarchive.plugins.database import DatabaseDocumentStorage
    from sigarchive.plugins.filesystem import FilesystemDocumentStorage

    registry = PluginRegistry(config_path=config.path)
    registry.storages[DATABASE] = StorageHandle(
        DATABASE, "built-in", DatabaseDocumentStorage(db), Parameters(), builtin=True
    )
    registry.storages[LOCAL] = StorageHandle(
        LOCAL,
        "built-in",
        FilesystemDocumentStorage(),
        Parameters({"DocumentsFolderPath": str(documents_dir)}),
        builtin=True,
    )
    for entry in config.document_storage:
        registry.storages[entry.name] = StorageHandle(**_handle_fields(entry))
    for entry in config.post_enhancement:
        registry.post_enhancement.append(PostEnhancementHandle(**_handle_fields(entry)))
    if initialize:
        for handle in registry.all_handles():
            if handle.enabled:
                handle.initialize()
    return registry


def _handle_fields(entry: PluginEntry) -> dict[str, Any]:
    plugin: Any = None
    if entry.enabled:  # a disabled plugin need not even be installed
        plugin = instantiate(
            entry.kind, resolve_class(entry.kind, entry.assembly, entry.label), entry.label
        )
    parameters = Parameters(dict(entry.parameters), entry=entry.label)
    return {
        "name": entry.name,
        "assembly": entry.assembly,
        "plugin": plugin,
        "parameters": parameters,
        "enabled": entry.enabled,
        "read_only": entry.read_only,
    }


__all__ = [
    "DocumentStoragePlugin",
    "PluginRegistry",
    "PostEnhancementHandle",
    "PostEnhancementPlugin",
    "StorageHandle",
    "build_registry",
    "split_location",
]
