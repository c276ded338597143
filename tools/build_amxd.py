"""Build the Max for Live devices (.amxd) from their patcher sources (.maxpat) in maxpatch/.

An unfrozen .amxd is a flat run of chunks, each a 4-byte ASCII tag, a 4-byte little-endian length (bytes of data
that follow, not counting the 8-byte header) and the data, without padding:

- ``ampf`` (4 bytes): the device type, ``aaaa`` audio effect, ``iiii`` instrument, ``mmmm`` MIDI effect;
- ``meta`` (4 bytes): written as zeros; Ableton's own reader (maxdevtools/maxdiff ``amxd_textconv.py``) skips it;
- ``ptch``: the patcher JSON, here the .maxpat bytes unchanged, followed by one NUL byte.

Frozen devices wrap ``ptch`` in an ``mx@c`` archive with their dependencies; this tool does not freeze. The device
type is taken from the patcher itself (``patcher.project.amxdtype``, the four type letters as a big-endian
integer, as Max saves it), so the .maxpat stays the single source.

Usage: ``python tools/build_amxd.py [--check] [MAXPAT ...]`` (default: every device patcher in maxpatch/).
``--check`` writes nothing and exits 1 when an .amxd is missing or differs from what its .maxpat builds.
"""
from __future__ import annotations

import argparse
import json
import struct
import sys
from pathlib import Path

MAXPATCH_DIR = Path(__file__).resolve().parent.parent / "maxpatch"
DEVICE_TYPES = {"aaaa": "audio effect", "iiii": "instrument", "mmmm": "MIDI effect"}
META = b"\x00\x00\x00\x00"


class AmxdError(ValueError):
    """A patcher cannot become a device, or a file is not an unfrozen .amxd."""


def device_type(patcher: dict) -> str | None:
    """The device type letters (``"iiii"`` …) of a parsed .maxpat; None for a plain patcher (e.g. a poly~ voice)."""
    code = patcher.get("patcher", {}).get("project", {}).get("amxdtype")
    if code is None:
        return None
    letters = struct.pack(">I", code).decode("ascii", errors="replace")
    if letters not in DEVICE_TYPES:
        raise AmxdError(f"amxdtype {code} is {letters!r}; expected one of {sorted(DEVICE_TYPES)}")
    return letters


def chunk(tag: str, data: bytes) -> bytes:
    """One chunk: ``tag`` (4 ASCII letters), the length of ``data`` in bytes (little-endian uint32), ``data``."""
    return tag.encode("ascii") + struct.pack("<I", len(data)) + data


def build(maxpat: bytes) -> bytes:
    """The .amxd bytes for the .maxpat bytes ``maxpat`` (UTF-8 JSON of a device patcher)."""
    patcher = json.loads(maxpat)
    kind = device_type(patcher)
    if kind is None:
        raise AmxdError("the patcher has no project.amxdtype: it is not a Max for Live device")
    return chunk("ampf", kind.encode("ascii")) + chunk("meta", META) + chunk("ptch", maxpat + b"\x00")


def read_chunks(amxd: bytes) -> list[tuple[str, bytes]]:
    """Split .amxd bytes into ``[(tag, data), …]``; raises AmxdError on a truncated chunk."""
    chunks, offset = [], 0
    while offset < len(amxd):
        if offset + 8 > len(amxd):
            raise AmxdError(f"truncated chunk header at byte {offset}")
        tag = amxd[offset:offset + 4].decode("ascii")
        (size,) = struct.unpack_from("<I", amxd, offset + 4)
        data = amxd[offset + 8:offset + 8 + size]
        if len(data) != size:
            raise AmxdError(f"chunk {tag!r} at byte {offset} says {size} bytes, {len(data)} left")
        chunks.append((tag, data))
        offset += 8 + size
    return chunks


def device_patchers(folder: Path = MAXPATCH_DIR) -> list[Path]:
    """The .maxpat files in ``folder`` that are devices (have a device type), sorted by name."""
    return [p for p in sorted(folder.glob("*.maxpat")) if device_type(json.loads(p.read_bytes())) is not None]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("maxpat", nargs="*", type=Path, help="device patchers (default: all in maxpatch/)")
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 if an .amxd is stale")
    args = parser.parse_args(argv)
    stale = []
    for source in args.maxpat or device_patchers():
        target = source.with_suffix(".amxd")
        built = build(source.read_bytes())
        if args.check:
            if not target.exists() or target.read_bytes() != built:
                stale.append(target)
            continue
        target.write_bytes(built)
        print(f"{target} ({DEVICE_TYPES[device_type(json.loads(source.read_bytes()))]}, {len(built)} bytes)")
    for target in stale:
        print(f"stale: {target} (run python tools/build_amxd.py)", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
