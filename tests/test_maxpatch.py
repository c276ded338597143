"""The Max for Live devices and the Pd twin, checked without Max: structure, OSC contract, ports, .amxd build.

The OSC contract is read from docs/osc.md itself (its message headings and argument tables), so a change to the
doc that the patches do not follow fails here.
"""
from __future__ import annotations

import importlib.util
import json
import re
from collections import deque
from pathlib import Path

import pytest

from exsampling.config import OscConfig, ServerConfig
from exsampling.mapping import DEFAULT_MELODIC

ROOT = Path(__file__).resolve().parent.parent
MAXPATCH = ROOT / "maxpatch"
PREFIX = OscConfig().prefix
MAXPATS = sorted(MAXPATCH.glob("*.maxpat"))
UNPACK_TAGS = {"0": "i", "0.": "f", "s": "s"}          # Max unpack argument -> OSC type tag
PD_UNPACK_TAGS = {"f": {"i", "f"}, "s": {"s"}}          # Pd has one number type


def _load_build_amxd():
    spec = importlib.util.spec_from_file_location("build_amxd", ROOT / "tools" / "build_amxd.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build_amxd = _load_build_amxd()


def contract() -> dict[str, list[tuple[str, str]]]:
    """docs/osc.md as ``{kind: [(argument name, type tag), …]}`` for each ``PREFIX/<kind>/<instrument>`` message."""
    messages: dict[str, list[tuple[str, str]]] = {}
    current = None
    for line in (ROOT / "docs" / "osc.md").read_text(encoding="utf-8").splitlines():
        heading = re.match(r"^## `PREFIX/(\w+)/<instrument>`", line)
        if heading:
            current = messages.setdefault(heading.group(1), [])
        elif line.startswith("## "):
            current = None
        elif current is not None:
            row = re.match(r"^\| (\d+) \| (\w+) \| `([isf])` \|", line)
            if row:
                assert int(row.group(1)) == len(current), f"argument rows out of order at {line!r}"
                current.append((row.group(2), row.group(3)))
    return messages


CONTRACT = contract()


def test_the_contract_was_read():
    assert set(CONTRACT) == {"sample", "withdraw", "note"}
    assert len(CONTRACT["sample"]) == 13 and CONTRACT["note"] == [("note", "i"), ("velocity", "i")]


class Patcher:
    """A .maxpat's top-level boxes by id and its patch cords."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.doc = json.loads(path.read_text(encoding="utf-8"))
        self.boxes = {b["box"]["id"]: b["box"] for b in self.doc["patcher"]["boxes"]}
        self.lines = [(line["patchline"]["source"], line["patchline"]["destination"])
                      for line in self.doc["patcher"]["lines"]]

    def code(self, box: dict) -> str:
        """A box's text, or "" for a comment (whose words are prose, not objects)."""
        return "" if box["maxclass"] == "comment" else box.get("text", "")

    def one(self, text_prefix: str) -> str:
        """The id of the single object or message box whose text starts with ``text_prefix``."""
        found = [i for i, b in self.boxes.items() if self.code(b).startswith(text_prefix)]
        assert len(found) == 1, f"{self.path.name}: {len(found)} boxes start with {text_prefix!r}"
        return found[0]

    def texts(self, text_prefix: str) -> list[str]:
        return [self.code(b) for b in self.boxes.values() if self.code(b).startswith(text_prefix)]

    def targets(self, box: str, outlet: int) -> list[tuple[str, int]]:
        return [(dst, inlet) for (src, out), (dst, inlet) in self.lines if src == box and out == outlet]

    def reaches(self, box: str, outlet: int, text_prefix: str, inlet: int | None = None) -> bool:
        """Whether patch cords lead from ``box``'s ``outlet`` to a box whose text starts with ``text_prefix``."""
        todo, seen = deque(self.targets(box, outlet)), set()
        while todo:
            dst, dst_inlet = todo.popleft()
            if self.code(self.boxes[dst]).startswith(text_prefix) and inlet in (None, dst_inlet):
                return True
            if dst not in seen:
                seen.add(dst)
                todo.extend(t for out in range(self.boxes[dst]["numoutlets"]) for t in self.targets(dst, out))
        return False


@pytest.fixture(scope="module")
def track() -> Patcher:
    return Patcher(MAXPATCH / "exsampling-track.maxpat")


@pytest.fixture(scope="module")
def hub() -> Patcher:
    return Patcher(MAXPATCH / "exsampling-hub.maxpat")


def walk(patcher: dict):
    """Every (patcher, box) pair, subpatchers included."""
    for entry in patcher["boxes"]:
        yield patcher, entry["box"]
        if "patcher" in entry["box"]:
            yield from walk(entry["box"]["patcher"])


@pytest.mark.parametrize("path", MAXPATS, ids=lambda p: p.name)
def test_maxpat_has_max_patcher_structure(path):
    doc = json.loads(path.read_text(encoding="utf-8"))
    patcher = doc["patcher"]
    assert patcher["fileversion"] == 1 and patcher["classnamespace"] == "box"
    assert {"major", "minor", "revision"} <= set(patcher["appversion"])
    for sub in [patcher] + [box["patcher"] for _, box in walk(patcher) if "patcher" in box]:
        boxes = {}
        for entry in sub["boxes"]:
            box = entry["box"]
            assert box["id"] not in boxes, f"duplicate id {box['id']}"
            boxes[box["id"]] = box
            assert len(box["patching_rect"]) == 4
            assert len(box.get("outlettype", [])) == box["numoutlets"], box["id"]
            if box["maxclass"] == "newobj":
                assert box["text"].strip(), box["id"]
        for entry in sub["lines"]:
            (src, outlet), (dst, inlet) = entry["patchline"]["source"], entry["patchline"]["destination"]
            assert 0 <= outlet < boxes[src]["numoutlets"], entry
            assert 0 <= inlet < boxes[dst]["numinlets"], entry


def route_args(track: Patcher) -> list[str]:
    return track.boxes[track.one("route ")]["text"].split()[1:]


def route_outlet(track: Patcher, kind: str) -> int:
    """The outlet of the track's route that passes on ``PREFIX/<kind>/<instrument>``."""
    (outlet,) = [i for i, address in enumerate(route_args(track)) if address.startswith(f"{PREFIX}/{kind}/")]
    return outlet


def test_track_routes_on_the_contract_addresses_of_its_instrument(track):
    route = track.one("route ")
    instrument = route_args(track)[0].rsplit("/", 1)[1]
    assert sorted(route_args(track)) == sorted(f"{PREFIX}/{kind}/{instrument}" for kind in CONTRACT)
    menu = next(i for i, b in track.boxes.items() if b["maxclass"] == "live.menu")
    for kind in CONTRACT:
        address_format = f"sprintf symout {PREFIX}/{kind}/%s"
        assert track.targets(track.one(address_format), 0) == [(route, route_outlet(track, kind) + 1)], kind
        assert track.reaches(menu, 1, address_format)
    assert track.targets(track.one("receive "), 0) == [(route, 0)]


def unpack_of(track: Patcher, kind: str) -> str:
    (unpack, inlet), = track.targets(track.one("route "), route_outlet(track, kind))
    assert (track.boxes[unpack]["text"].split()[0], inlet) == ("unpack", 0)
    return unpack


@pytest.mark.parametrize("kind", list(CONTRACT))
def test_track_unpacks_each_message_with_the_contract_types(track, kind):
    types = [UNPACK_TAGS[a] for a in track.boxes[unpack_of(track, kind)]["text"].split()[1:]]
    assert types == [tag for _, tag in CONTRACT[kind]]


def _unpack_outlet(track: Patcher, kind: str, name: str) -> tuple[str, int]:
    return unpack_of(track, kind), [n for n, _ in CONTRACT[kind]].index(name)


@pytest.mark.parametrize(("name", "target", "inlet"), [
    ("path", "buffer~ ---sample", 0),
    ("melodic", "if ", 0),
    ("midi_note", "if ", 1),
    ("sample_id", "sprintf url ", 0),
    ("sample_id", "==", 1),
    ("label", "prepend set", 0),
    ("participant", "prepend set", 0),
])
def test_sample_arguments_are_used_by_their_contract_index(track, name, target, inlet):
    assert track.reaches(*_unpack_outlet(track, "sample", name), target, inlet)


def test_root_note_follows_the_playback_rule(track):
    root = track.boxes[track.one("if ")]["text"]
    assert root == "if $i1 != 0 && $i2 >= 0 then $i2 else -1"   # $i1 melodic, $i2 midi_note (wired above)
    voice = Patcher(MAXPATCH / "exsampling-voice.maxpat")
    rate = voice.boxes[voice.one("expr (")]["text"]
    assert rate == "expr ($i2 < 0) + ($i2 >= 0) * pow(2.\\, ($i1 - $i2) / 12.)"   # $i1 note, $i2 root
    assert voice.reaches(voice.one("v ---root"), 0, "expr (", inlet=1)


def test_withdraw_and_note_arguments_are_used_by_their_contract_index(track):
    assert track.reaches(*_unpack_outlet(track, "withdraw", "sample_id"), "==", inlet=0)
    for name in ("note", "velocity"):
        unpack, outlet = _unpack_outlet(track, "note", name)
        assert track.reaches(unpack, outlet, "pack 0 0", inlet=outlet)
    assert track.reaches(track.one("pack 0 0"), 0, "poly~ ")
    assert track.reaches(track.one("midiparse"), 0, "poly~ ")


def test_instrument_selector_offers_the_default_instruments(track):
    menu = next(b for b in track.boxes.values() if b["maxclass"] == "live.menu")
    items = menu["saved_attribute_attributes"]["valueof"]["parameter_enum"]
    initial = int(menu["saved_attribute_attributes"]["valueof"]["parameter_initial"][0])
    assert sorted(items) == sorted(DEFAULT_MELODIC)
    assert {address.rsplit("/", 1)[1] for address in route_args(track)} == {items[initial]}


def test_ports_and_urls_follow_the_config_defaults(track, hub):
    port = OscConfig().port
    assert hub.texts("udpreceive ") == [f"udpreceive {port}"]
    numbox = next(b for b in hub.boxes.values() if b["maxclass"] == "live.numbox")
    assert numbox["saved_attribute_attributes"]["valueof"]["parameter_initial"] == [port]
    assert track.texts("sprintf url ") == [f"sprintf url http://127.0.0.1:{ServerConfig().port}/map?sample=%ld"]
    assert f"f {port}" in pd_objects(MAXPATCH / "exsampling.pd")


def test_hub_forwards_to_the_bus_the_tracks_listen_to(track, hub):
    (sent,) = hub.texts("send ")
    assert track.texts("receive ") == ["receive " + sent.split()[1]]
    assert not sent.split()[1].startswith("---"), "the bus must be global to reach the other devices"
    assert hub.reaches(hub.one("udpreceive "), 0, "send ")


def test_per_track_names_are_private_to_each_device(track):
    voice = Patcher(MAXPATCH / "exsampling-voice.maxpat")
    local = ("buffer~", "info~", "groove~", "v", "send", "receive")
    for patcher in (track, voice):
        for box in patcher.boxes.values():
            words = patcher.code(box).split()
            if words and words[0] in local and words[1:] != ["exsampling.osc"]:
                assert words[1].startswith("---"), f"{patcher.path.name}: {box['text']!r} would be shared by all tracks"


def test_poly_voice_abstraction_is_shipped_beside_the_device(track):
    voice = track.boxes[track.one("poly~ ")]["text"].split()[1]
    assert (MAXPATCH / f"{voice}.maxpat").is_file()


@pytest.mark.parametrize("path", build_amxd.device_patchers(MAXPATCH), ids=lambda p: p.name)
def test_amxd_is_built_from_its_maxpat(path):
    amxd = path.with_suffix(".amxd").read_bytes()
    assert amxd == build_amxd.build(path.read_bytes()), "stale .amxd: run python tools/build_amxd.py"
    chunks = build_amxd.read_chunks(amxd)
    assert [tag for tag, _ in chunks] == ["ampf", "meta", "ptch"]
    kind, patch = chunks[0][1].decode(), chunks[2][1]
    assert patch.endswith(b"\x00") and json.loads(patch[:-1]) == json.loads(path.read_bytes())
    assert kind == build_amxd.device_type(json.loads(path.read_bytes()))


def test_devices_have_the_right_types():
    types = {p.name: build_amxd.device_type(json.loads(p.read_bytes())) for p in MAXPATS}
    assert types == {
        "exsampling-hub.maxpat": "aaaa", "exsampling-track.maxpat": "iiii", "exsampling-voice.maxpat": None,
    }


def pd_objects(path: Path) -> list[str]:
    """The object boxes of a .pd file as their text (``route sample withdraw note``), wherever they sit."""
    statements = re.split(r"(?<!\\);\n", path.read_text())
    return [" ".join(s.split()[4:]) for s in statements if s.startswith("#X obj ")]


def test_pd_twin_follows_the_contract():
    track = pd_objects(MAXPATCH / "exsampling-track.pd")
    (routes,) = [o.split()[1:] for o in track if o.startswith("route ") and "sample" in o]
    assert sorted(routes) == sorted(CONTRACT)
    (unpack,) = [o.split()[1:] for o in track if o.startswith("unpack f s s")]
    for pd_type, (name, tag) in zip(unpack, CONTRACT["sample"], strict=True):
        assert tag in PD_UNPACK_TAGS[pd_type], name
    assert f"route {PREFIX.lstrip('/')}" in pd_objects(MAXPATCH / "exsampling.pd")


def test_pd_twin_has_every_default_instrument_on_its_own_midi_channel():
    tracks = [o.split()[1:] for o in pd_objects(MAXPATCH / "exsampling.pd") if o.startswith("exsampling-track ")]
    assert sorted(name for name, _ in tracks) == sorted(DEFAULT_MELODIC)
    assert sorted(int(channel) for _, channel in tracks) == list(range(1, len(DEFAULT_MELODIC) + 1))
