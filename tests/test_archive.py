"""A show kept as a zip: export → import → export gives the same bytes, and every bad or hostile zip is refused
with a reason before anything is written."""
import hashlib
import json
import sqlite3
import stat
import subprocess
import sys
import warnings
import zipfile
from dataclasses import asdict
from pathlib import Path

import pytest
from test_library import _load_v0

from exsampling.archive import ArchiveError, Limits, export_show, import_show, open_show
from exsampling.config import Config, load
from exsampling.library import RUNTIME_COLUMNS, SCHEMA_VERSION, Library
from exsampling.show_state import (
    ACCEPTED_KEY,
    DEVICES_KEY,
    EXPORTED_SETTINGS,
    MODE_KEY,
    OMITTED_KEY,
    OWNER_KEY,
    PROMPT_KEY,
    TOKEN_KEY,
    TUNNEL_KEY,
    OwnerRecord,
)


def exsampling(*args, timeout=180):
    return subprocess.run([sys.executable, "-m", "exsampling.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def portable_rows(root: Path) -> dict[str, list[tuple]]:
    """Every row of the library, with its own folder written as ``@`` (so two libraries compare), without the
    columns that name a process of this machine (RUNTIME_COLUMNS: never exported)."""
    with sqlite3.connect(root / "library.sqlite3") as db:
        db.row_factory = sqlite3.Row
        return {t: [tuple(str(row[c]).replace(str(root), "@") if isinstance(row[c], str) else row[c]
                          for c in row.keys() if c not in RUNTIME_COLUMNS.get(t, ()))  # noqa: SIM118 (a Row)
                    for row in db.execute(f"SELECT * FROM {t} ORDER BY rowid")]
                for t in ("recordings", "samples", "events", "memory", "settings")}


def files_of(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*")
            if p.is_file() and p.parent != root}


# -- round trip ---------------------------------------------------------------------------------------


def test_export_import_export_is_byte_for_byte(made_show, tmp_path):
    first, second, restored = tmp_path / "a.zip", tmp_path / "b.zip", tmp_path / "restored"
    result = exsampling("export", first, "--library", made_show.library, "--config", made_show.config)
    assert result.returncode == 0, result.stderr
    assert "wrote" in result.stdout and "files" in result.stdout
    result = exsampling("import", first, "--library", restored)
    assert result.returncode == 0, result.stderr
    assert "imported 6 recordings, 7 samples" in result.stdout
    result = exsampling("export", second, "--library", restored, "--config", made_show.config)
    assert result.returncode == 0, result.stderr
    assert first.read_bytes() == second.read_bytes()

    original = portable_rows(made_show.library)
    original["settings"] = [row for row in original["settings"] if row[0] in EXPORTED_SETTINGS]
    assert portable_rows(restored) == original  # ids, times, history, memory, upload ids: all of it
    with sqlite3.connect(restored / "library.sqlite3") as db:
        assert all(u for (u,) in db.execute("SELECT upload_id FROM recordings"))  # compared above, and there
    assert files_of(restored) == {k: v for k, v in files_of(made_show.library).items() if not k.startswith("tls/")}
    library = Library(restored)
    assert {e.kind for e in library.events()} >= {"received", "classified", "sent", "withdrawn", "rejected",
                                                  "relabelled", "accepted"}
    assert library.sample(1).path == str(restored / "samples" / "000001.wav")


def test_the_manifest_and_readme_say_what_is_inside(made_show, tmp_path):
    cfg = load(made_show.config)
    done = export_show(Library(made_show.library), cfg, tmp_path / "show.zip")
    with zipfile.ZipFile(done.path) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        names = set(zf.namelist())
        for name, entry in manifest["files"].items():
            data = zf.read(name)
            assert (len(data), hashlib.sha256(data).hexdigest()) == (entry["bytes"], entry["sha256"])
        readme = zf.read("README.txt").decode()
        model = json.loads(zf.read("model.json"))
        mapping = json.loads(zf.read("mapping.json"))
        config = zf.read("config.toml").decode()
        settings = [json.loads(line) for line in zf.read("show/settings.jsonl").decode().splitlines()]
        events = [json.loads(line) for line in zf.read("show/events.jsonl").decode().splitlines()]
    assert names == set(manifest["files"]) | {"manifest.json"} and done.files == len(names)
    assert (manifest["format"], manifest["version"], manifest["schema_version"]) == ("exsampling-show", 1,
                                                                                     SCHEMA_VERSION)
    assert manifest["show"] | {"first_event": None, "last_event": None} == {
        "recordings": 6, "samples": 7, "participants": 3, "events": len(events), "first_event": None,
        "last_event": None}
    assert manifest["omitted"] == {} and any(n.startswith("photos/") for n in names)
    for name in ("manifest.json", "config.toml", "mapping.json", "model.json", "show/events.jsonl", "recordings/"):
        assert name in readme
    used = cfg.resolve(cfg.classifier.model)
    assert model["sha256"] == hashlib.sha256(used.read_bytes()).hexdigest() and model["name"] == "tones-noise-barks"
    assert model["classified_by"] == ["tones-noise-barks"] and model["sidecar"]["labels"]
    assert manifest["model"]["sha256"] == model["sha256"] and "sidecar" not in manifest["model"]
    assert mapping["mapping"]["Bark"] == "Bass" and mapping["melodic"]["Piano"] is True
    assert 'path = "."' in config and 'token = ""' in config and "show-token" not in config
    assert {s["key"] for s in settings} == {"show.prompt", "show.mode"}  # no token, no owner secret
    received = [json.loads(e["data"]) for e in events if e["kind"] == "received"]
    assert len(received) == 6 and {r["source"] for r in received} == {"upload"}
    assert [json.loads(e["data"])["text"] for e in events if e["kind"] == "prompt"] == [
        "something that rings", "now something soft"]


#: What a running show keeps in its library that belongs to its secrets or its machine, every value recognisable.
TUNNEL_URL = "https://quiet-owl-4521.ngrok-free.app"
MACHINE = {
    TOKEN_KEY: "tok-Zq8hiddenToken",
    OWNER_KEY: asdict(OwnerRecord(
        console="console-7f3e11", pid=987_654_321, kernel="kernel-5a1d22", control_port=48_123,
        secret="owner-secret-9c2b33", since="2026-12-07T20:00:00Z", started=1_796_000_000.0, upload_port=8765,
        urls={"lan": "https://192.0.2.77:8765/r/tok-Zq8hiddenToken"}, recorder_url="https://192.0.2.77:8765/",
        map_url="https://192.0.2.77:8765/map", tunnel=TUNNEL_URL, rules=["bells_to_piano_rule"])),
    TUNNEL_KEY: {"public_url": TUNNEL_URL, "api": "http://127.0.0.1:40417", "pid": 876_543_219,
                 "addr": "127.0.0.1:58765", "domain": "quiet-owl-4521.ngrok-free.app"},
    ACCEPTED_KEY: ["198.51.100.23"],
    DEVICES_KEY: [{"name": "max-live-set-b", "host": "198.51.100.24", "version": 1, "tracks": ["Bass"],
                   "last_heard": 1_796_000_123.5}],
}
#: The values none of the zip's members may hold (numbers of four digits or fewer could be anything).
NEEDLES = ["tok-Zq8hiddenToken", "console-7f3e11", "987654321", "kernel-5a1d22", "owner-secret-9c2b33",
           "192.0.2.77", "bells_to_piano_rule", "quiet-owl-4521", "127.0.0.1:40417", "876543219", "127.0.0.1:58765",
           "198.51.100.23", "198.51.100.24", "max-live-set-b", "1796000123"]


def test_an_export_keeps_the_show_and_none_of_its_secrets_or_its_machine(made_show, tmp_path, capsys):
    from exsampling.cli import main

    cfg = load(made_show.config)
    library = import_show(export_show(Library(made_show.library), cfg, tmp_path / "plain.zip").path,
                          tmp_path / "running")  # a library of its own to write the machine's settings into
    for key, value in MACHINE.items():
        library.set_setting(key, value)
    library.set_setting(PROMPT_KEY, "something that rings")
    assert not set(MACHINE) & EXPORTED_SETTINGS
    done = export_show(library, cfg, tmp_path / "show.zip")
    raw = done.path.read_bytes()
    with zipfile.ZipFile(done.path) as zf:
        members = {info.filename: zf.read(info) for info in zf.infolist()}
    assert len(members) == done.files and any(n.startswith("recordings/") for n in members)
    for name, data in [("(the zip's own bytes)", raw), *members.items()]:
        for needle in NEEDLES:
            assert needle.encode() not in data, f"{needle} is in {name}"
            assert needle not in name
    settings = [json.loads(line) for line in members["show/settings.jsonl"].decode().splitlines()]
    assert {s["key"] for s in settings} == {PROMPT_KEY, MODE_KEY}  # the show's own, as it was

    again = import_show(done.path, tmp_path / "again")  # the show is all there
    assert again.counts() == library.counts() and again.setting(PROMPT_KEY) == "something that rings"
    assert all(again.setting(key) is None for key in MACHINE)
    today = tmp_path / "today.toml"
    today.write_text(f'[library]\npath = "today"\n[classifier]\nmodel = "{made_show.model}"\n[osc]\nport = 9\n')
    assert main(["replay", str(done.path), "--speed", "inf", "--config", str(today), "--library",
                 str(tmp_path / "replayed"), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "replayed 6 recordings" in out and "decisions that differ from the show: 0 of 7 samples" in out


def test_an_import_takes_no_secret_or_machine_setting_a_zip_carries(good_zip, tmp_path):
    """A zip written elsewhere (or by hand) cannot plant a token, an owner, a tunnel or a trusted address."""
    items = entries(good_zip)
    planted = "".join(json.dumps({"key": key, "value": json.dumps(value)}) + "\n" for key, value in MACHINE.items())
    items = [(i, d + planted.encode() if i.filename == "show/settings.jsonl" else d) for i, d in items]
    library = import_show(rezip(tmp_path / "planted.zip", items, relist=True), tmp_path / "lib")
    assert all(library.setting(key) is None for key in MACHINE)
    assert library.setting(PROMPT_KEY) == "something that rings" and library.counts()["samples"] == 4


def test_audio_left_out_keeps_its_rows_and_round_trips(made_show, tmp_path):
    cfg = load(made_show.config)
    first = export_show(Library(made_show.library), cfg, tmp_path / "a.zip", no_audio_over=100_000)
    recordings = {k for k in first.omitted if k.startswith("recordings/")}
    assert recordings and all(v["bytes"] > 100_000 and len(v["sha256"]) == 64 for v in first.omitted.values())
    assert not any(k.startswith("photos/") for k in first.omitted)
    with zipfile.ZipFile(first.path) as zf:
        assert not set(first.omitted) & set(zf.namelist())
        assert "are not in this zip" in zf.read("README.txt").decode()
    restored = import_show(first.path, tmp_path / "restored")
    assert restored.counts() == Library(made_show.library).counts()
    assert restored.setting(OMITTED_KEY) == first.omitted
    assert not any((restored.root / name).exists() for name in first.omitted)
    second = export_show(restored, cfg, tmp_path / "b.zip")  # no limit now: what is gone stays "omitted"
    assert second.path.read_bytes() == first.path.read_bytes()
    result = exsampling("export", tmp_path / "c.zip", "--library", made_show.library, "--config", made_show.config,
                        "--no-audio-over", "0.1")
    assert result.returncode == 0 and "audio files left out" in result.stdout


def test_export_is_atomic_and_says_when_there_is_no_library(tmp_path):
    result = exsampling("export", tmp_path / "x.zip", "--library", tmp_path / "nothing")
    assert result.returncode == 2 and "no library" in result.stderr and not (tmp_path / "x.zip").exists()
    assert not (tmp_path / "nothing").exists()


# -- refusals -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def good_zip(tmp_path_factory) -> Path:
    """A small valid show zip (the pre-history fixture library, migrated)."""
    folder = tmp_path_factory.mktemp("good")
    _load_v0(folder / "lib")
    return export_show(Library(folder / "lib"), Config(), folder / "good.zip").path


def entries(path: Path) -> list[tuple[zipfile.ZipInfo, bytes]]:
    with zipfile.ZipFile(path) as zf:
        return [(info, zf.read(info)) for info in zf.infolist()]


def rezip(out: Path, items: list[tuple[zipfile.ZipInfo | str, bytes]], *, relist: bool = False) -> Path:
    """Write ``items`` as a zip; ``relist`` rewrites the manifest's file table to match them (a consistent liar)."""
    if relist:
        manifest = json.loads({getattr(i, "filename", i): d for i, d in items}["manifest.json"])
        manifest["files"] = {getattr(i, "filename", i): {"bytes": len(d), "sha256": hashlib.sha256(d).hexdigest()}
                             for i, d in items if getattr(i, "filename", i) != "manifest.json"}
        items = [(i, json.dumps(manifest).encode() if getattr(i, "filename", i) == "manifest.json" else d)
                 for i, d in items]
    with zipfile.ZipFile(out, "w") as zf, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Duplicate name": that one is on purpose
        for info, data in items:
            zf.writestr(copy(info) if isinstance(info, zipfile.ZipInfo) else info, data)
    return out


def copy(info: zipfile.ZipInfo) -> zipfile.ZipInfo:
    """A fresh entry like ``info`` (zipfile fills in offsets and sizes as it writes: never reuse one)."""
    new = zipfile.ZipInfo(info.filename, info.date_time)
    for name in ("compress_type", "create_system", "external_attr", "flag_bits"):
        setattr(new, name, getattr(info, name))
    return new


def edit_manifest(items, change):
    out = []
    for info, data in items:
        if info.filename == "manifest.json":
            manifest = json.loads(data)
            change(manifest)
            data = json.dumps(manifest).encode()
        out.append((info, data))
    return out


def replace_entry(items, name, data):
    return [(info, data if info.filename == name else d) for info, d in items]


def link_entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


def flag_encrypted(good: Path, name: str, out: Path) -> Path:
    """``good`` with ``name`` marked encrypted in the central directory (zipfile's writer clears the flag)."""
    raw = bytearray(good.read_bytes())
    at = 0
    while (at := raw.index(b"PK\x01\x02", at + 1)) >= 0:
        length = int.from_bytes(raw[at + 28:at + 30], "little")
        if raw[at + 46:at + 46 + length].decode() == name:
            raw[at + 8] |= 0x1
            out.write_bytes(bytes(raw))
            return out


def first_recording(items) -> str:
    return next(i.filename for i, _ in items if i.filename.startswith("recordings/"))


def bad_zips(good: Path, out: Path) -> dict[str, tuple[Path, str, Limits]]:
    """Every way an import must be refused: (zip, what the reason says, limits)."""
    items = entries(good)
    rec = first_recording(items)
    default = Limits()
    cases: dict[str, tuple[Path, str, Limits]] = {}

    def case(name, path, reason, limits=default):
        cases[name] = (path, reason, limits)

    noise = out / "noise.zip"
    noise.write_bytes(bytes(range(256)) * 40)
    case("not a zip", noise, "not a zip file")
    truncated = out / "truncated.zip"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    case("truncated", truncated, "not a zip file, or it is damaged")
    case("no manifest", rezip(out / "nomanifest.zip", [(i, d) for i, d in items if i.filename != "manifest.json"]),
         "no manifest.json")
    case("manifest not JSON", rezip(out / "badjson.zip", replace_entry(items, "manifest.json", b"{nope")),
         "manifest.json is not JSON")
    case("another format", rezip(out / "format.zip", edit_manifest(items, lambda m: m.update(format="x"))),
         "does not describe an ExSampling show")
    case("a newer version", rezip(out / "version.zip", edit_manifest(items, lambda m: m.update(version=2))),
         "this ExSampling reads version 1")
    case("a newer schema", rezip(out / "schema.zip", edit_manifest(items, lambda m: m.update(schema_version=9))),
         "update ExSampling")
    case("absolute path", rezip(out / "abs.zip", [*items, ("/etc/cron.d/evil", b"x")], relist=True),
         "absolute path")
    case("drive letter", rezip(out / "drive.zip", [*items, ("C:/evil.wav", b"x")], relist=True), "absolute path")
    case("dot-dot", rezip(out / "dotdot.zip", [*items, ("recordings/../../evil.wav", b"x")], relist=True),
         "climbs out")
    case("backslash", rezip(out / "backslash.zip", [*items, ("recordings\\..\\..\\evil.wav", b"x")], relist=True),
         "backslash")
    case("symbolic link", rezip(out / "link.zip", [*items, (link_entry("recordings/link.wav"), b"/etc/passwd")],
                                relist=True), "symbolic link")
    case("directory entry", rezip(out / "dir.zip", [*items, ("recordings/sub/", b"")], relist=True),
         "not a plain file")
    case("stray file", rezip(out / "stray.zip", [*items, ("notes/hello.txt", b"hi")], relist=True),
         "not part of a show archive")
    bomb = zipfile.ZipInfo("samples/999999.wav")
    bomb.compress_type = zipfile.ZIP_DEFLATED
    case("zip bomb", rezip(out / "bomb.zip", [*items, (bomb, bytes(50 * 2 ** 20))], relist=True), "zip bomb")
    case("too many entries", rezip(out / "many.zip", items + [(f"samples/{i:06d}.x", b"") for i in range(60)],
                                   relist=True), "over the limit of 50", Limits(max_entries=50))
    case("too large in all", good, "would unpack to", Limits(max_total_bytes=1000))
    case("one entry too large", good, "over the limit of 1000", Limits(max_entry_bytes=1000))
    case("duplicate entry", rezip(out / "dup.zip", [*items, (rec, b"second copy")]), "more than once")
    case("wrong checksum", rezip(out / "checksum.zip", replace_entry(items, rec, b"RIFF-altered")),
         "does not match its checksum")
    case("longer than listed", rezip(out / "longer.zip", replace_entry(items, rec, b"x" * 5000)),
         "longer than the manifest says")
    raw = bytearray(good.read_bytes())
    offset = raw.index(next(d for i, d in items if i.filename == rec))  # stored: flip a byte, the CRC breaks
    raw[offset + 3] ^= 0xFF
    crc = out / "crc.zip"
    crc.write_bytes(bytes(raw))
    case("damaged bytes", crc, "damaged")
    case("unlisted file", rezip(out / "unlisted.zip", [*items, ("samples/000099.wav", b"RIFF")]),
         "is in the zip but not in manifest.json")
    case("listed file missing", rezip(out / "missing.zip", [(i, d) for i, d in items if i.filename != rec]),
         f"manifest.json lists {rec}, which is not in the zip")
    case("encrypted entry", flag_encrypted(good, rec, out / "encrypted.zip"), "encrypted")

    def table_edit(name, change):
        return [(i, change(d) if i.filename == name else d) for i, d in items]

    def first_row(change):
        def edit(data):
            lines = data.decode().splitlines()
            row = json.loads(lines[0])
            change(row)
            return "\n".join([json.dumps(row), *lines[1:]]).encode() + b"\n"
        return edit

    case("a row pointing out of the library",
         rezip(out / "rowpath.zip", table_edit("show/samples.jsonl", first_row(
             lambda r: r.update(path="../../../etc/passwd"))), relist=True), "is not a file of the library")
    case("a row naming a file it does not hold",
         rezip(out / "rowfile.zip", table_edit("show/samples.jsonl", first_row(
             lambda r: r.update(path="samples/777777.wav"))), relist=True), "neither in the zip nor listed")
    case("a column the library does not have",
         rezip(out / "column.zip", table_edit("show/recordings.jsonl", first_row(
             lambda r: r.update({"status) VALUES (1); DROP TABLE samples; --": 1}))), relist=True),
         "do not fit this library")
    case("a value that is not plain",
         rezip(out / "value.zip", table_edit("show/recordings.jsonl", first_row(
             lambda r: r.update(participant=["a", "list"]))), relist=True), "not a plain value")
    case("a table that is not JSON",
         rezip(out / "table.zip", table_edit("show/events.jsonl", lambda d: b"{broken\n" + d), relist=True),
         "is not JSON")
    case("a row breaking the library's rules",
         rezip(out / "fk.zip", table_edit("show/samples.jsonl", first_row(lambda r: r.update(recording_id=999))),
               relist=True), "do not fit this library")
    return cases


@pytest.fixture(scope="module")
def refusals(good_zip, tmp_path_factory):
    return bad_zips(good_zip, tmp_path_factory.mktemp("bad"))


REFUSAL_NAMES = [
    "not a zip", "truncated", "no manifest", "manifest not JSON", "another format", "a newer version",
    "a newer schema", "absolute path", "drive letter", "dot-dot", "backslash", "symbolic link", "directory entry",
    "stray file", "zip bomb", "too many entries", "too large in all", "one entry too large", "duplicate entry",
    "wrong checksum", "longer than listed", "damaged bytes", "unlisted file", "listed file missing",
    "encrypted entry", "a row pointing out of the library", "a row naming a file it does not hold",
    "a column the library does not have", "a value that is not plain", "a table that is not JSON",
    "a row breaking the library's rules",
]


def test_every_refusal_is_listed(refusals):
    assert sorted(refusals) == sorted(REFUSAL_NAMES)


@pytest.mark.parametrize("name", REFUSAL_NAMES)
def test_a_bad_zip_is_refused_with_a_reason_and_writes_nothing(refusals, tmp_path, name):
    path, reason, limits = refusals[name]
    parent = tmp_path / "shows"
    parent.mkdir()
    with pytest.raises(ArchiveError) as caught:
        import_show(path, parent / "restored", limits=limits)
    assert reason in str(caught.value)
    assert list(parent.iterdir()) == []  # no library, no half-written staging folder
    assert not (tmp_path / "evil.wav").exists() and not (tmp_path.parent / "evil.wav").exists()


def test_the_good_zip_itself_imports(good_zip, tmp_path):
    library = import_show(good_zip, tmp_path / "ok")
    assert library.counts()["samples"] == 4 and (tmp_path / "ok" / "samples" / "000001.wav").is_file()


def test_an_import_never_writes_into_a_folder_in_use(good_zip, tmp_path):
    used = tmp_path / "used"
    used.mkdir()
    (used / "keep.txt").write_text("mine")
    with pytest.raises(ArchiveError, match="is not empty"):
        import_show(good_zip, used)
    assert [p.name for p in used.iterdir()] == ["keep.txt"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert import_show(good_zip, empty).counts()["recordings"] == 4


def test_the_command_refuses_with_exit_code_1_and_the_reason(refusals, tmp_path):
    path, _, _ = refusals["dot-dot"]
    result = exsampling("import", path, "--library", tmp_path / "lib")
    assert result.returncode == 1 and "refused" in result.stderr and "climbs out" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "lib").exists()


def test_open_show_reads_a_zip_or_a_folder(good_zip, tmp_path):
    with open_show(good_zip) as (library, info):
        assert library.counts()["recordings"] == 4 and info.manifest["show"]["samples"] == 4
        assert info.mapping["mapping"]["Bark"] == "Bass" and info.name == "good"
        folder = library.root
    assert not folder.exists()  # the temporary library is gone
    with open_show(good_zip.parent / "lib") as (library, info):
        assert library.counts()["samples"] == 4 and info.manifest is None
    with pytest.raises(ArchiveError, match="not a library folder"), open_show(tmp_path):
        pass


def test_an_import_that_would_fill_the_disk_is_refused(good_zip, tmp_path, monkeypatch):
    import shutil

    monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(2**40, 2**40 - 2**20, 2**20))
    with pytest.raises(ArchiveError, match="MiB are free"):
        import_show(good_zip, tmp_path / "lib")
    assert list(tmp_path.iterdir()) == []


def test_an_import_brings_back_the_show_s_config_and_mapping(made_show, tmp_path):
    cfg = load(made_show.config)
    cfg = cfg.with_changes(mapping=cfg.mapping | {"Bark": "Lead"}, melodic=cfg.melodic | {"Lead": True},
                           show={"prompt": "something metallic"})
    exported = export_show(Library(made_show.library), cfg, tmp_path / "show.zip")
    result = exsampling("import", exported.path, "--library", tmp_path / "restored")
    assert result.returncode == 0, result.stderr
    path = tmp_path / "restored" / "exsampling.toml"
    assert f"its config and mapping: {path}" in result.stdout
    restored = load(path)
    assert restored.mapping == cfg.mapping and restored.melodic["Lead"] is True
    assert restored.osc == cfg.osc and restored.show.prompt == "something metallic"
    assert restored.resolve(restored.library.path) == tmp_path / "restored"  # the imported library itself
    text = path.read_text()
    assert "[audio]" not in text and "is not found here" in text  # no defaults; the model named relatively
