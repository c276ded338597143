"""SoundFonts and MIDI: which samples a preset plays on which keys (.sf2 files and timidity configs), a Standard
MIDI File of notes, and a render of it by fluidsynth or timidity cut into one clip per note."""
from __future__ import annotations

import shutil
import struct
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .. import audio
from .origin import CorpusError


def _riff_chunks(b: bytes, off: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    while off + 8 <= end:
        cid, size = b[off:off + 4], struct.unpack("<I", b[off + 4:off + 8])[0]
        yield cid, off + 8, size
        off += 8 + size + (size & 1)


def sf2_zones(path: Path) -> dict[tuple[int, int], list[tuple[int, int, str]]]:
    """Which samples each preset plays on which keys.

    Returns ``{(bank, preset): [(key_lo, key_hi, sample_id), ...]}`` where ``sample_id`` is
    ``"<sample name>/<length in frames>"`` — the identity used to spot one recording shared by two fonts.
    """
    b = Path(path).read_bytes()
    chunks: dict[bytes, bytes] = {}
    for cid, o, s in _riff_chunks(b, 12, len(b)):
        if cid == b"LIST":
            for c2, o2, s2 in _riff_chunks(b, o + 4, o + s):
                chunks[c2] = b[o2:o2 + s2]

    def records(name: bytes, fmt: str) -> list[tuple]:
        size, data = struct.calcsize(fmt), chunks[name]
        return [struct.unpack(fmt, data[i:i + size]) for i in range(0, len(data) - size + 1, size)]

    phdr, pbag, pgen = records(b"phdr", "<20sHHH12x"), records(b"pbag", "<HH"), records(b"pgen", "<HH")
    inst, ibag, igen = records(b"inst", "<20sH"), records(b"ibag", "<HH"), records(b"igen", "<HH")
    shdr = records(b"shdr", "<20sII18x")

    def generators(bags: list[tuple], gens: list[tuple], i: int) -> dict[int, int]:
        return {gens[g][0]: gens[g][1] for g in range(bags[i][0], bags[i + 1][0])}

    def key_range(g: dict[int, int]) -> tuple[int, int]:
        v = g.get(43)  # generator 43 = keyRange, lo byte then hi byte
        return (v & 0xFF, v >> 8) if v is not None else (0, 127)

    zones: dict[tuple[int, int], list[tuple[int, int, str]]] = {}
    for p in range(len(phdr) - 1):
        _, preset, bank, bag0 = phdr[p]
        out = []
        for pz in range(bag0, phdr[p + 1][3]):
            g = generators(pbag, pgen, pz)
            if 41 not in g:  # 41 = instrument; a zone without one is a global zone
                continue
            plo, phi = key_range(g)
            for iz in range(inst[g[41]][1], inst[g[41] + 1][1]):
                gi = generators(ibag, igen, iz)
                if 53 not in gi:  # 53 = sampleID
                    continue
                lo, hi = key_range(gi)
                lo, hi = max(lo, plo), min(hi, phi)
                if lo <= hi:
                    name, start, end = shdr[gi[53]]
                    sample_name = name.split(b"\x00")[0].decode("latin1")
                    out.append((lo, hi, f"{sample_name}/{end - start}"))
        zones[(bank, preset)] = out
    return zones


def timidity_zones(cfg: Path) -> dict[tuple[int, int], list[tuple[int, int, str]]]:
    """The same map as :func:`sf2_zones` for a timidity config: ``bank N`` programs and ``drumset N`` keys.

    Timidity plays a default instrument for a program its config lacks, so a render cannot tell a
    missing instrument by silence: this map is the only safe test.
    """
    zones: dict[tuple[int, int], list[tuple[int, int, str]]] = {}
    section = None
    for line in Path(cfg).read_text(encoding="latin1").splitlines():
        words = line.split("#")[0].split()
        if len(words) >= 2 and words[0] in ("bank", "drumset") and words[1].isdigit():
            section = (words[0], int(words[1]))
        elif len(words) >= 2 and words[0].isdigit() and section is not None:
            n = int(words[0])
            if section[0] == "bank":
                zones.setdefault((section[1], n), []).append((0, 127, words[1]))
            else:
                zones.setdefault((128, section[1]), []).append((n, n, words[1]))
    return zones


def samples_on(zones: list[tuple[int, int, str]], key: int) -> set[str]:
    """The sample ids a preset plays on MIDI ``key``."""
    return {s for lo, hi, s in zones if lo <= key <= hi}


def _vlq(n: int) -> bytes:
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


def midi_file(notes: list[tuple[float, float, int, int]], program: int, channel: int, bank: int = 0) -> bytes:
    """A type-0 Standard MIDI File playing ``notes`` = ``[(start_s, duration_s, key, velocity), ...]``.

    Tempo is 120 bpm at 480 ticks per quarter note, so one tick is 1/960 s.
    """
    events: list[tuple[int, bytes]] = [(0, bytes([0xB0 | channel, 0, bank])), (0, bytes([0xC0 | channel, program]))]
    for start, dur, key, vel in notes:
        events.append((round(start * 960), bytes([0x90 | channel, key, vel])))
        events.append((round((start + dur) * 960), bytes([0x80 | channel, key, 0])))
    events.sort(key=lambda e: (e[0], e[1][0] & 0xF0 != 0x80))  # note-offs before note-ons at one tick
    track, now = bytearray(), 0
    for tick, data in events:
        track += _vlq(tick - now) + data
        now = tick
    track += _vlq(960) + b"\xff\x2f\x00"  # one second of tail, then end of track
    return b"MThd" + struct.pack(">IHHH", 6, 0, 1, 480) + b"MTrk" + struct.pack(">I", len(track)) + bytes(track)


def render(font: Path, notes: list[tuple[float, float, int, int]], program: int, channel: int, sr: int,
           bank: int = 0) -> list[np.ndarray]:
    """Render ``notes`` (no reverb, no chorus) and cut one mono clip per note.

    ``font`` is a SoundFont (.sf2, rendered by fluidsynth) or a timidity config (.cfg, e.g. freepats).
    Each clip runs from its note-on to the next note-on (or the end), so release tails are kept;
    callers leave gaps long enough for the tail. Returns float32 arrays at ``sr`` Hz.
    """
    synth = "timidity" if font.suffix == ".cfg" else "fluidsynth"
    if shutil.which(synth) is None:
        raise CorpusError(f"{synth} is not installed (apt-get install {synth})")
    with tempfile.TemporaryDirectory() as tmp:
        mid, wav = Path(tmp) / "in.mid", Path(tmp) / "out.wav"
        mid.write_bytes(midi_file(notes, program, channel, bank))
        if synth == "timidity":
            cmd = ["timidity", "-c", str(font), "-Ow1M", "-s", str(sr), "-EFreverb=d", "-EFchorus=d", "-o", str(wav),
                   str(mid)]
        else:
            cmd = ["fluidsynth", "-ni", "-q", "-R", "0", "-C", "0", "-g", "0.8", "-r", str(sr), "-F", str(wav),
                   str(font), str(mid)]
        subprocess.run(cmd, check=True, capture_output=True, timeout=600)
        y = audio.decode(wav, sr, max_duration_s=1e6)
    starts = [round(n[0] * sr) for n in notes] + [len(y)]
    return [y[starts[i]:starts[i + 1]].copy() for i in range(len(notes))]
