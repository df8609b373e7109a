"""plugin-config.json, the loader and the safety net around plugin calls."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from sigarchive.archive.post_enhancement import PostEnhancementRunner
from sigarchive.db.engine import Database
from sigarchive.domain import ContainerStatus, SaveType
from sigarchive.plugins.config import PluginKind, load_plugin_config, parse_plugin_config
from sigarchive.plugins.loader import build_registry, split_location
from sigarchive.plugins.protocols import (
    ContainerInfo,
    Document,
    Parameters,
    PluginConfigError,
    SignatureInfo,
)
from sigarchive.plugins.result import Result, ResultError
from sigarchive.plugins.san_filesystem import FilesystemPostEnhancement

# The seed's two examples, as written there (only AssemblyName names a Python class).
SEED_CONFIG = {
    "Plugins": {
        "DocumentStorage": [
            {
                "IsEnabled": True,
                "ReadOnly": False,
                "PluginName": "filesystem_01",
                "AssemblyName": "filesystem",
                "Parameters": {"DocumentsFolderPath": "/home/username/documents"},
            }
        ],
        "SanConnector": [
            {
                "IsEnabled": True,
                "PluginName": "SanConnector_01",
                "AssemblyName": "filesystem",
                "Parameters": {"Folder": "/home/username/containers"},
            }
        ],
    }
}


def storage_entry(**fields: Any) -> dict[str, Any]:
    entry = {"IsEnabled": True, "PluginName": "p", "AssemblyName": "filesystem"}
    entry.update(fields)
    return {"Plugins": {"DocumentStorage": [entry]}}


def test_result() -> None:
    success = Result.ok("here")
    assert success.is_success and not success.is_failure and success.value == "here"
    failure: Result[str] = Result.fail("broken")
    assert failure.is_failure and failure.error == "broken"
    with pytest.raises(ResultError, match="broken"):
        _ = failure.value
    assert Result.ok(None).is_success


def test_the_seeds_config_is_read_as_written() -> None:
    config = parse_plugin_config(SEED_CONFIG)
    [storage] = config.document_storage
    assert (storage.name, storage.assembly, storage.enabled, storage.read_only) == (
        "filesystem_01",
        "filesystem",
        True,
        False,
    )
    assert storage.parameters["documentsfolderpath"] == "/home/username/documents"
    [san] = config.post_enhancement
    assert san.kind is PluginKind.POST_ENHANCEMENT
    assert san.parameters["folder"] == "/home/username/containers"  # the seed asks for "folder"


def test_keys_ignore_case_as_in_dotnet_configuration() -> None:
    config = parse_plugin_config(
        {
            "plugins": {
                "documentstorage": [
                    {
                        "isenabled": "true",
                        "pluginname": "a",
                        "assemblyname": "s3",
                        "parameters": {"Bucket": 1},
                    }
                ]
            }
        }
    )
    assert config.document_storage[0].parameters["BUCKET"] == "1"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (storage_entry(PluginName=""), r"DocumentStorage\[0\]: PluginName is required"),
        (storage_entry(AssemblyName=None), r'\("p"\): AssemblyName is required'),
        (storage_entry(IsEnabled=None), r'\("p"\): IsEnabled is required'),
        (storage_entry(IsEnabled="yes"), r"IsEnabled must be true or false"),
        (storage_entry(PluginName="a:b"), r"without ':'"),
        (storage_entry(PluginName="database"), r"reserved"),
        (storage_entry(Parametrs={}), r"unknown key 'Parametrs'"),
        (storage_entry(Parameters={"A": "1", "a": "2"}), r"keys are case-insensitive"),
        (storage_entry(Parameters={"A": {"nested": 1}}), r"parameter 'A' must be a string"),
        ({"Plugins": {"DocumentStorage": {}}}, r"must be a list"),
        ({"Plugin": {}}, r"unknown key 'Plugin'"),
        ({"Plugins": {"SanConnectors": []}}, r"unknown key 'SanConnectors'"),
    ],
)
def test_bad_entries_are_refused_naming_the_entry(config: Any, message: str) -> None:
    with pytest.raises(PluginConfigError, match=message):
        parse_plugin_config(config)


def test_plugin_names_are_unique() -> None:
    entry = {"IsEnabled": True, "PluginName": "same", "AssemblyName": "filesystem"}
    with pytest.raises(PluginConfigError, match=r'\[1\] \("same"\): PluginName must be unique'):
        parse_plugin_config({"Plugins": {"DocumentStorage": [entry, dict(entry)]}})
    # a storage and a post-enhancement plugin may share a name: they are different lists
    parse_plugin_config({"Plugins": {"DocumentStorage": [entry], "SanConnector": [entry]}})


def test_the_file_is_optional_and_bad_json_is_named(tmp_path: Path) -> None:
    assert load_plugin_config(tmp_path / "absent.json").document_storage == ()
    broken = tmp_path / "plugin-config.json"
    broken.write_text('{"Plugins": ')
    with pytest.raises(PluginConfigError, match=r"plugin-config.json: not valid JSON \(line 1"):
        load_plugin_config(broken)
    broken.write_text("\ufeff" + json.dumps(SEED_CONFIG))  # Windows editors write a BOM
    assert load_plugin_config(broken).path == broken


@pytest.fixture
def db(tmp_path: Path) -> Any:
    database = Database(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    database.migrate()
    yield database
    database.dispose()


def build(db: Database, tmp_path: Path, kind: str, assembly: str, **parameters: str) -> Any:
    entry = {
        "IsEnabled": True,
        "PluginName": "x",
        "AssemblyName": assembly,
        "Parameters": parameters,
    }
    config = parse_plugin_config({"Plugins": {kind: [entry]}})
    return build_registry(config, db=db, documents_dir=tmp_path / "documents")


@pytest.mark.parametrize(
    ("assembly", "message"),
    [
        ("FilesystemStoragePlugin.dll", r"neither 'module:Class' nor an entry point.*filesystem"),
        ("no_such_module:Plugin", r"cannot be imported \(ModuleNotFoundError"),
        ("sigarchive.plugins.result:Nope", r"cannot be imported \(AttributeError"),
        ("sigarchive.plugins.result:Result", r"Result\(\) failed.*built without arguments"),
        (
            "sigarchive.plugins.san_filesystem:FilesystemPostEnhancement",
            r"is not a DocumentStorage plugin \(missing save, get, delete\)",
        ),
        ("sigarchive.plugins.result:ResultError", r"missing initialize, save, get, delete"),
    ],
)
def test_assembly_names_that_do_not_resolve_are_refused(
    db: Database, tmp_path: Path, assembly: str, message: str
) -> None:
    with pytest.raises(PluginConfigError, match=message):
        build(db, tmp_path, "DocumentStorage", assembly)


class SyncProcess:
    def initialize(self, parameters: Mapping[str, str]) -> None:
        pass

    def process(self, container: ContainerInfo) -> Result[None]:
        return Result.ok(None)


def test_a_post_enhancement_plugin_must_be_async(db: Database, tmp_path: Path) -> None:
    with pytest.raises(PluginConfigError, match="must be 'async def'"):
        build(db, tmp_path, "SanConnector", f"{__name__}:SyncProcess")


def test_missing_required_parameters_refuse_the_start(db: Database, tmp_path: Path) -> None:
    with pytest.raises(PluginConfigError, match="parameter 'DocumentsFolderPath' is required"):
        build(db, tmp_path, "DocumentStorage", "filesystem")
    with pytest.raises(PluginConfigError, match="parameter 'Bucket' is required"):
        build(db, tmp_path, "DocumentStorage", "s3")
    with pytest.raises(PluginConfigError, match="parameter 'folder' is required"):
        build(db, tmp_path, "SanConnector", "filesystem")


class Misbehaving:
    """Raises, returns garbage, or fails to initialise — all must become failure Results."""

    init_failures = 0

    def initialize(self, parameters: Mapping[str, str]) -> None:
        if Misbehaving.init_failures > 0:
            Misbehaving.init_failures -= 1
            raise ConnectionError("storage not reachable yet")

    def save(self, container: ContainerInfo) -> Result[str]:
        raise RuntimeError("boom")

    def get(self, location: str) -> Any:
        return b"raw bytes instead of a Result"

    def delete(self, location: str) -> Any:
        return Result.ok(location)


def info(document: Document | None = None) -> ContainerInfo:
    return ContainerInfo(
        id="c0ffee00-0000-0000-0000-000000000000",
        name="n",
        status=ContainerStatus.ARCHIVED,
        save_type=SaveType.PERMANENT,
        storage_id=1,
        storage_name="s",
        structure_name=None,
        document_type="text/plain",
        document_size=3,
        signatures=(SignatureInfo(b"sig-0", None, "B-LTA"),),
        document=document,
    )


def test_a_plugin_never_raises_to_the_archive(db: Database, tmp_path: Path) -> None:
    handle = build(db, tmp_path, "DocumentStorage", f"{__name__}:Misbehaving").storages["x"]
    saved = handle.save(info(Document(io.BytesIO(b"abc"), 3)))
    assert saved.is_failure and "raised in save: RuntimeError: boom" in str(saved.error)
    got = handle.get("anything")
    assert got.is_failure and "returned bytes from get, not a Result" in str(got.error)
    deleted = handle.delete("anything")
    assert deleted.is_success  # a value where none is expected is tolerated


def test_a_plugin_that_fails_to_initialise_is_retried_on_use(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Misbehaving.init_failures = 1
    registry = build(db, tmp_path, "DocumentStorage", f"{__name__}:Misbehaving")
    handle = registry.storages["x"]
    assert not handle.initialised and "ConnectionError" in str(handle.init_error)
    failed = handle.delete("a")
    assert failed.is_failure and "not initialised" in str(failed.error)
    monkeypatch.setattr("sigarchive.plugins.loader.REINITIALIZE_AFTER", 0.0)
    assert handle.delete("a").is_success and handle.initialised


def test_read_only_plugins_serve_get_only(db: Database, tmp_path: Path) -> None:
    entry = {
        "IsEnabled": True,
        "ReadOnly": True,
        "PluginName": "old",
        "AssemblyName": "filesystem",
        "Parameters": {"DocumentsFolderPath": str(tmp_path)},
    }
    registry = build_registry(
        parse_plugin_config({"Plugins": {"DocumentStorage": [entry]}}),
        db=db,
        documents_dir=tmp_path / "documents",
    )
    (tmp_path / "ab").mkdir()
    (tmp_path / "ab" / "abcd").write_bytes(b"kept by the old store")
    handle = registry.storages["old"]
    with handle.get("ab/abcd").value as document:
        assert document.read() == b"kept by the old store"
    assert "ReadOnly" in str(handle.save(info(Document(io.BytesIO(b"abc"), 3))).error)
    assert "ReadOnly" in str(handle.delete("ab/abcd").error)
    assert (tmp_path / "ab" / "abcd").exists()
    with pytest.raises(Exception, match="ReadOnly"):
        registry.for_upload("old")


def test_locations_name_their_plugin() -> None:
    assert split_location("s3_01:archive/1b4e") == ("s3_01", "archive/1b4e")
    assert split_location("database:1b4e") == ("database", "1b4e")
    assert split_location("1b/1b4e") == ("local", "1b/1b4e")  # written before plugins existed


def test_the_filesystem_storage_stays_inside_its_folder(db: Database, tmp_path: Path) -> None:
    registry = build(
        db, tmp_path, "DocumentStorage", "filesystem", DocumentsFolderPath=str(tmp_path / "docs")
    )
    (tmp_path / "secret").write_text("not a document")
    handle = registry.storages["x"]
    assert "outside" in str(handle.get("../secret").error)
    assert "outside" in str(handle.get(str(tmp_path / "secret")).error)
    assert "outside" in str(handle.delete("../secret").error)


def test_parameters_ignore_case() -> None:
    parameters = Parameters({"DocumentsFolderPath": "/x"}, entry="e")
    assert parameters["documentsfolderpath"] == "/x" and list(parameters) == ["DocumentsFolderPath"]
    assert parameters.integer("PartSizeMiB", 8) == 8
    with pytest.raises(PluginConfigError, match="must be an integer >= 5"):
        Parameters({"PartSizeMiB": "4"}).integer("partsizemib", 8, minimum=5)


def test_the_seeds_san_connector_writes_signatures_and_a_report(tmp_path: Path) -> None:
    plugin = FilesystemPostEnhancement()
    plugin.initialize({"Folder": str(tmp_path)})
    container = info()
    assert asyncio.run(plugin.process(container)).is_success
    folder = tmp_path / container.id
    assert (folder / "signature-0.sig").read_bytes() == b"sig-0"
    assert (folder / "report.txt").read_text() == "Signature 0 expiration date: unknown.\n"
    failed = ContainerInfo(**{**container.__dict__, "status": ContainerStatus.ERROR})
    assert asyncio.run(plugin.process(failed)).is_success
    assert (folder / "report.txt").read_text() == "Error. Container status: Error."
    assert sorted(p.name for p in folder.iterdir()) == ["report.txt", "signature-0.sig"]


class Slow:
    def initialize(self, parameters: Mapping[str, str]) -> None:
        pass

    async def process(self, container: ContainerInfo) -> Result[None]:
        await asyncio.sleep(30)
        return Result.ok(None)


def test_a_post_enhancement_plugin_that_hangs_gives_up_before_its_lease_ends(
    db: Database, tmp_path: Path
) -> None:
    registry = build(db, tmp_path, "SanConnector", f"{__name__}:Slow")
    runner = PostEnhancementRunner(
        db, registry.post_enhancement, "test-runner", lease_for=timedelta(seconds=0.5)
    )
    result = asyncio.run(runner._process(registry.post_enhancement[0], info()))
    assert result.is_failure and "did not finish within" in str(result.error)
