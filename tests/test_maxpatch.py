"""The Max for Live devices and the Pd twin, checked without Max: structure, OSC contract, ports, .amxd build.

The OSC contract is read from docs/osc.md itself (its message headings and argument tables), so a change to the
doc that the patches do not follow fails here.
"""
from __future__ import annotations

import importlib.util
import json
import re
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from exsampling.config import OscConfig, ServerConfig
from exsampling.mapping import DEFAULT_MELODIC
from exsampling.stage import CONTRACT_VERSION

ROOT = Path(__file__).resolve().parent.parent
MAXPATCH = ROOT / "maxpatch"
PREFIX = OscConfig().prefix
MAXPATS = sorted(MAXPATCH.glob("*.maxpat"))
UNPACK_TAGS = {"0": "i", "0.": "f", "s": "s"}          # Max unpack/pack argument -> OSC type tag
PD_UNPACK_TAGS = {"f": {"i", "f"}, "s": {"s"}}          # Pd has one number type
#: The send/receive names shared by all devices (everything else a device uses is private: ---name).
BUSES = {"exsampling.osc": "hub → tracks: every message from the console",
         "exsampling.answer": "tracks → hub: loaded and played",
         "exsampling.rollcall": "hub → tracks: who is there (for hello)",
         "exsampling.tracks": "tracks → hub: the instrument each follows"}


def _load_build_amxd():
    spec = importlib.util.spec_from_file_location("build_amxd", ROOT / "tools" / "build_amxd.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build_amxd = _load_build_amxd()


@dataclass
class Message:
    """One message of docs/osc.md: which way it goes, whether the instrument is in its address, its arguments.

    repeated: the last argument is repeated (zero or more of it, to the end of the message).
    """

    to_stage: bool
    per_instrument: bool
    args: list[tuple[str, str]] = field(default_factory=list)
    repeated: bool = False

    @property
    def tags(self) -> list[str]:
        return [tag for _, tag in self.args]


def contract() -> dict[str, Message]:
    """docs/osc.md as ``{kind: Message}`` for each ``PREFIX/<kind>[/<instrument>]`` message."""
    messages: dict[str, Message] = {}
    direction = current = None
    for line in (ROOT / "docs" / "osc.md").read_text(encoding="utf-8").splitlines():
        section = re.match(r"^## (Console|Stage) → (stage|console)$", line)
        heading = re.match(r"^### `PREFIX/(\w+)(/<instrument>)?`", line)
        if section:
            direction, current = section.group(1) == "Console", None
        elif line.startswith("## "):
            direction = current = None
        elif heading and direction is not None:
            current = messages.setdefault(heading.group(1), Message(direction, heading.group(2) is not None))
        elif current is not None:
            row = re.match(r"^\| (\d+)(…)? \| (\w+) \| `([isf])` \|", line)
            if row:
                assert int(row.group(1)) == len(current.args), f"argument rows out of order at {line!r}"
                assert not current.repeated, f"a repeated argument must be the last one: {line!r}"
                current.args.append((row.group(3), row.group(4)))
                current.repeated = row.group(2) is not None
    return messages


CONTRACT = contract()
TO_TRACKS = [kind for kind, m in CONTRACT.items() if m.per_instrument]


def test_the_contract_was_read():
    assert {k for k, m in CONTRACT.items() if m.to_stage} == {"sample", "withdraw", "note", "instruments", "reply"}
    assert {k for k, m in CONTRACT.items() if not m.to_stage} == {"hello", "loaded", "played"}
    assert TO_TRACKS == ["sample", "withdraw", "note"]
    assert len(CONTRACT["sample"].args) == 13 and CONTRACT["note"].args == [("note", "i"), ("velocity", "i")]
    assert CONTRACT["hello"].tags == ["s", "i", "s"] and CONTRACT["hello"].repeated
    assert CONTRACT["instruments"].tags == ["s"] and CONTRACT["instruments"].repeated
    assert CONTRACT["loaded"].tags == ["i", "s", "i", "s"] and CONTRACT["played"].tags == ["i", "i", "s"]


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

    def exact(self, text: str) -> str:
        """The id of the single object or message box whose text is ``text``."""
        (found,) = [i for i, b in self.boxes.items() if self.code(b) == text]
        return found

    def texts(self, text_prefix: str) -> list[str]:
        return [self.code(b) for b in self.boxes.values() if self.code(b).startswith(text_prefix)]

    def targets(self, box: str, outlet: int) -> list[tuple[str, int]]:
        return [(dst, inlet) for (src, out), (dst, inlet) in self.lines if src == box and out == outlet]

    def sources(self, box: str, inlet: int = 0) -> list[str]:
        return [src for (src, _), (dst, i) in self.lines if dst == box and i == inlet]

    def reached(self, box: str, outlet: int, text_prefix: str, inlet: int | None = None) -> str | None:
        """The nearest box whose text starts with ``text_prefix`` that patch cords lead to from ``box``'s ``outlet``
        (at ``inlet`` when given), or None."""
        todo, seen = deque(self.targets(box, outlet)), set()
        while todo:
            dst, dst_inlet = todo.popleft()
            if self.code(self.boxes[dst]).startswith(text_prefix) and inlet in (None, dst_inlet):
                return dst
            if dst not in seen:
                seen.add(dst)
                todo.extend(t for out in range(self.boxes[dst]["numoutlets"]) for t in self.targets(dst, out))
        return None

    def reaches(self, box: str, outlet: int, text_prefix: str, inlet: int | None = None) -> bool:
        """Whether patch cords lead from ``box``'s ``outlet`` to a box whose text starts with ``text_prefix``."""
        return self.reached(box, outlet, text_prefix, inlet) is not None

    def maxclass(self, name: str) -> str:
        """The id of the single box of this class (a UI object)."""
        (found,) = [i for i, b in self.boxes.items() if b["maxclass"] == name]
        return found


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


def main_route(track: Patcher) -> str:
    """The track's route on its instrument's addresses."""
    return track.one(f"route {PREFIX}/sample/")


def route_args(track: Patcher) -> list[str]:
    return track.boxes[main_route(track)]["text"].split()[1:]


def route_outlet(track: Patcher, kind: str) -> int:
    """The outlet of the track's route that passes on ``PREFIX/<kind>/<instrument>``."""
    (outlet,) = [i for i, address in enumerate(route_args(track)) if address.startswith(f"{PREFIX}/{kind}/")]
    return outlet


def test_track_routes_on_the_contract_addresses_of_its_instrument(track):
    route = main_route(track)
    instrument = route_args(track)[0].rsplit("/", 1)[1]
    assert sorted(route_args(track)) == sorted(f"{PREFIX}/{kind}/{instrument}" for kind in TO_TRACKS)
    chosen = track.one("pattr instrument")
    for kind in TO_TRACKS:
        address_format = f"sprintf symout {PREFIX}/{kind}/%s"
        assert track.targets(track.one(address_format), 0) == [(route, route_outlet(track, kind) + 1)], kind
        assert track.reaches(chosen, 0, address_format)
    names = track.one(f"route {PREFIX}/instruments")
    assert track.targets(track.one("receive exsampling.osc"), 0) == [(names, 0)]
    assert track.targets(names, 1) == [(route, 0)], "everything but the names goes on to the track's route"


def test_track_follows_a_name_the_console_announces_or_a_typed_one(track):
    chosen, menu = track.one("pattr instrument"), track.maxclass("umenu")
    names = track.one(f"route {PREFIX}/instruments")
    assert track.reached(names, 0, "prepend append") == track.one("prepend append")
    assert (menu, 0) in track.targets(track.one("prepend append"), 0)
    assert track.reaches(names, 0, "zl.change"), "the menu is rebuilt only when the names change"
    assert track.reached(menu, 1, "pattr instrument") == chosen
    assert track.reached(track.maxclass("textedit"), 0, "pattr instrument") == chosen
    parameter = track.boxes[chosen]["saved_attribute_attributes"]["valueof"]
    assert track.boxes[chosen]["parameter_enable"] == 1 and parameter["parameter_type"] == 3, \
        "a Live 'blob' parameter: the name is saved with the Live set"
    assert {address.rsplit("/", 1)[1] for address in route_args(track)} == set(parameter["parameter_initial"])
    assert parameter["parameter_initial"] == ["Bass"] and "Bass" in DEFAULT_MELODIC
    assert not [b for b in track.boxes.values() if b["maxclass"] == "live.menu"], "no fixed menu of nine"


def unpack_of(track: Patcher, kind: str) -> str:
    unpack = track.reached(main_route(track), route_outlet(track, kind), "unpack", inlet=0)
    assert unpack is not None
    return unpack


@pytest.mark.parametrize("kind", TO_TRACKS)
def test_track_unpacks_each_message_with_the_contract_types(track, kind):
    types = [UNPACK_TAGS[a] for a in track.boxes[unpack_of(track, kind)]["text"].split()[1:]]
    assert types == CONTRACT[kind].tags


def _unpack_outlet(track: Patcher, kind: str, name: str) -> tuple[str, int]:
    return unpack_of(track, kind), [n for n, _ in CONTRACT[kind].args].index(name)


@pytest.mark.parametrize(("name", "target", "inlet"), [
    ("path", "buffer~ ---sample", 0),
    ("path", "sprintf symout could not read %s", 0),
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
    assert track.reaches(track.exact("pack 0 0"), 0, "poly~ ")
    assert track.reaches(track.one("midiparse"), 0, "poly~ ")


def answer_types(patcher: Patcher, message: str) -> list[str]:
    """The OSC types a message box ``/address $1 … literal`` sends: $n takes the type of the pack that fills it."""
    box, pack = message, None
    while pack is None:
        (box,) = set(patcher.sources(box))
        if patcher.code(patcher.boxes[box]).startswith("pack "):
            pack = [UNPACK_TAGS[a] for a in patcher.code(patcher.boxes[box]).split()[1:]]
    types = []
    for word in patcher.code(patcher.boxes[message]).split()[1:]:
        if word.startswith("$"):
            types.append(pack[int(word[1:]) - 1])
        else:
            types.append("i" if re.fullmatch(r"-?\d+", word) else "f" if re.fullmatch(r"-?\d*\.\d*", word) else "s")
    return types


def answers(patcher: Patcher, kind: str) -> list[str]:
    return [i for i, b in patcher.boxes.items()
            if b["maxclass"] == "message" and patcher.code(b).startswith(f"{PREFIX}/{kind} ")]


@pytest.mark.parametrize("kind", ["loaded", "played"])
def test_track_answers_with_the_contract_types_to_the_hub(track, hub, kind):
    found = answers(track, kind)
    assert found
    for message in found:
        assert answer_types(track, message) == CONTRACT[kind].tags, track.boxes[message]["text"]
        assert track.reaches(message, 0, "send exsampling.answer")
    assert hub.reaches(hub.one("receive exsampling.answer"), 0, "udpsend ")


def test_loaded_is_answered_when_buffer_has_the_file_or_after_a_timeout(track):
    ok, failed = sorted(answers(track, "loaded"), key=lambda m: track.boxes[m]["text"].split()[3], reverse=True)
    assert track.boxes[ok]["text"].split()[3] == "1" and track.boxes[failed]["text"].split()[3] == "0"
    assert track.reaches(track.one("buffer~ ---sample"), 1, track.boxes[ok]["text"])
    timeout = track.one("delay ")
    assert track.reaches(timeout, 0, track.boxes[failed]["text"])
    assert track.reaches(track.one("buffer~ ---sample"), 1, "stop") and track.reaches(main_route(track), 0, "delay ")
    # $1 is the sample_id (argument 0 of the sample message, kept before the file is read), $3 the path's reason
    first = track.reached(main_route(track), route_outlet(track, "sample"), "zl.slice 1")
    ids = track.reached(first, 0, "t i i i")
    kept_ids = {dst for out in range(3) for dst, inlet in track.targets(ids, out) if inlet == 1}
    for message in (ok, failed):
        (pack,) = track.sources(message)
        (kept,) = track.sources(pack)
        assert track.code(track.boxes[kept]) == "i" and kept in kept_ids
    assert track.reaches(track.one("sprintf symout could not read %s"), 0, "pack 0 s s", inlet=2)


def test_played_counts_notes_from_midi_and_osc_at_most_once_a_second(track):
    (played,) = answers(track, "played")
    limit = track.one("speedlim ")
    assert track.boxes[limit]["text"] == "speedlim 1000" and track.sources(played) == [limit]
    for source in (track.one("midiparse"), track.exact("pack 0 0")):
        assert track.reaches(source, 0, "gate") and track.reaches(source, 0, track.boxes[played]["text"])
    assert track.reaches(track.one("buffer~ ---sample"), 1, "gate", inlet=0), "only a loaded sample counts"


def test_hub_says_hello_with_its_tracks(track, hub):
    hello = hub.one(f"prepend {PREFIX}/hello")
    assert hub.reaches(hub.one("metro 3000"), 0, f"prepend {PREFIX}/hello") and hub.reaches(hello, 0, "udpsend ")
    (head,) = [i for i, b in hub.boxes.items() if b["maxclass"] == "message" and hub.code(b).startswith("max-hub ")]
    device, version = hub.code(hub.boxes[head]).split()
    assert (device, int(version)) == ("max-hub", CONTRACT_VERSION) and CONTRACT["hello"].tags[:2] == ["s", "i"]
    assert hub.reaches(head, 0, "zl.group") and hub.reaches(hub.one("t b b b b"), 1, "send exsampling.rollcall")
    assert track.reaches(track.one("receive exsampling.rollcall"), 0, "send exsampling.tracks")
    assert track.reaches(track.one("pattr instrument"), 0, "zl.reg", inlet=1)
    assert hub.reaches(hub.one("receive exsampling.tracks"), 0, "zl.group")


def test_hub_answers_where_the_console_says(hub):
    route = hub.one(f"route {PREFIX}/reply")
    assert hub.reaches(hub.one("udpreceive "), 0, f"route {PREFIX}/reply")
    (unpack, _), = hub.targets(route, 0)[:1]
    types = [UNPACK_TAGS[a] for a in hub.code(hub.boxes[unpack]).split()[1:]]
    assert types == CONTRACT["reply"].tags
    names = [n for n, _ in CONTRACT["reply"].args]
    host, port = names.index("host"), names.index("port")
    udpsend = hub.one("udpsend ")
    for outlet, message in ((host, "prepend host"), (port, "prepend port")):
        prepend = hub.reached(unpack, outlet, message)
        assert prepend is not None and hub.targets(prepend, 0) == [(udpsend, 0)], message


def test_ports_and_urls_follow_the_config_defaults(track, hub):
    port = OscConfig().port
    assert hub.texts("udpreceive ") == [f"udpreceive {port}"]
    assert hub.texts("udpsend ") == [f"udpsend 127.0.0.1 {OscConfig().listen_port}"]
    numbox = next(b for b in hub.boxes.values() if b["maxclass"] == "live.numbox")
    assert numbox["saved_attribute_attributes"]["valueof"]["parameter_initial"] == [port]
    assert track.texts("sprintf url ") == [f"sprintf url http://127.0.0.1:{ServerConfig().port}/map?sample=%ld"]
    assert f"f {port}" in pd_objects(MAXPATCH / "exsampling.pd")
    assert f"127.0.0.1 {OscConfig().listen_port}" in pd_messages(MAXPATCH / "exsampling.pd")


def test_hub_and_tracks_share_the_buses(track, hub):
    def names(patcher: Patcher, verb: str) -> set[str]:
        return {text.split()[1] for text in patcher.texts(f"{verb} ") if not text.split()[1].startswith("---")}

    assert names(hub, "send") == names(track, "receive") == {"exsampling.osc", "exsampling.rollcall"}
    assert names(track, "send") == names(hub, "receive") == {"exsampling.answer", "exsampling.tracks"}
    assert names(hub, "send") | names(hub, "receive") == set(BUSES)
    assert hub.reaches(hub.one("udpreceive "), 0, "send exsampling.osc")


def test_per_track_names_are_private_to_each_device(track):
    voice = Patcher(MAXPATCH / "exsampling-voice.maxpat")
    local = ("buffer~", "info~", "groove~", "v", "send", "receive")

    def named(patcher: Patcher) -> set[str]:
        """The names the patcher's buffers, values and sends use, besides the buses shared with the hub."""
        names = set()
        for box in patcher.boxes.values():
            words = patcher.code(box).split()
            if words and words[0] in local and words[1] not in BUSES:
                assert words[1].startswith("---"), f"{patcher.path.name}: {box['text']!r} would be shared by all tracks"
                names.add(words[1])
        return names

    # Max gives "---" names one id per device: the track's voices (its poly~) read exactly what the track writes
    assert named(track) == named(voice) == {"---sample", "---root", "---dur", "---release"}


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


def pd_boxes(path: Path, kind: str) -> list[str]:
    """The ``#X <kind>`` boxes of a .pd file as their text (``route sample withdraw note``), wherever they sit."""
    statements = re.split(r"(?<!\\);\n", path.read_text())
    return [" ".join(s.split()[4:]) for s in statements if s.startswith(f"#X {kind} ")]


def pd_objects(path: Path) -> list[str]:
    return pd_boxes(path, "obj")


def pd_messages(path: Path) -> list[str]:
    return pd_boxes(path, "msg")


def test_pd_twin_follows_the_contract():
    track = pd_objects(MAXPATCH / "exsampling-track.pd")
    (routes,) = [o.split()[1:] for o in track if o.startswith("route ") and "sample" in o]
    assert sorted(routes) == sorted(TO_TRACKS)
    (unpack,) = [o.split()[1:] for o in track if o.startswith("unpack f s s")]
    for pd_type, (name, tag) in zip(unpack, CONTRACT["sample"].args, strict=True):
        assert tag in PD_UNPACK_TAGS[pd_type], name
    main = pd_objects(MAXPATCH / "exsampling.pd")
    assert f"route {PREFIX.lstrip('/')}" in main
    (console,) = [o.split()[1:] for o in main if o.startswith("route reply")]
    assert sorted(console) == sorted(k for k, m in CONTRACT.items() if m.to_stage and not m.per_instrument)


def test_pd_twin_answers_with_the_contract_types():
    main = pd_objects(MAXPATCH / "exsampling.pd")
    for kind in ("hello", "loaded", "played"):
        (fmt,) = [o.split()[2] for o in main if o.startswith("oscformat -f ") and o.endswith(f" {kind}")]
        # oscformat types what the format does not cover by the atom: symbols as s (the hello's track names)
        assert list(fmt) == CONTRACT[kind].tags[:len(fmt)], kind
        assert CONTRACT[kind].tags[len(fmt):] in ([], ["s"]), kind
    assert f"list prepend pd-twin {CONTRACT_VERSION}" in main
    track = pd_objects(MAXPATCH / "exsampling-track.pd")
    assert "list prepend loaded" in track and "list prepend played" in track and "s exsampling-answer" in track


def test_pd_twin_has_every_default_instrument_on_its_own_midi_channel():
    tracks = [o.split()[1:] for o in pd_objects(MAXPATCH / "exsampling.pd") if o.startswith("exsampling-track ")]
    assert sorted(name for name, _, _ in tracks) == sorted(DEFAULT_MELODIC)
    assert sorted(int(channel) for _, channel, _ in tracks) == list(range(1, len(DEFAULT_MELODIC) + 1))
    assert {mix for _, _, mix in tracks} == {"\\$0"}, "every track throws into this twin's mix"
    assert "f 10" in pd_objects(MAXPATCH / "exsampling.pd"), "announced tracks take the channels after the nine"
