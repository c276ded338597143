"""Read the files packed in a Qt binary resource (``.rcc``), as GCompris ships its sounds.

Format (Qt's rcc, versions 1–3): a header ``qres``, version, and the offsets of a node tree, a data
area and a names area (all big-endian). Each tree node is a name offset, flags (2 = directory,
1 = zlib-compressed, 4 = zstd-compressed), then either a child count and first child index, or a
locale and a data offset; version ≥ 2 adds an 8-byte modification time. A data entry is its 4-byte
size and bytes; zlib entries are qCompress'd (4-byte uncompressed size, then a zlib stream).
"""
from __future__ import annotations

import struct
import zlib
from pathlib import Path


class RccError(ValueError):
    """Not a Qt binary resource file this reader understands."""


def files(path: str | Path) -> dict[str, bytes]:
    """``{"/path/inside/the/resource": bytes}`` for every file in the ``.rcc`` at ``path``."""
    b = Path(path).read_bytes()
    if b[:4] != b"qres":
        raise RccError(f"{path} is not a Qt resource file")
    version, tree, data, names = struct.unpack(">IIII", b[4:20])
    if version not in (1, 2, 3):
        raise RccError(f"{path}: unsupported rcc version {version}")
    node_size = 14 if version == 1 else 22

    def name(offset: int) -> str:
        n = struct.unpack(">H", b[names + offset:names + offset + 2])[0]
        start = names + offset + 6  # length, then a 4-byte hash
        return b[start:start + 2 * n].decode("utf-16-be")

    out: dict[str, bytes] = {}

    def walk(index: int, prefix: str) -> None:
        at = tree + index * node_size
        name_off, flags = struct.unpack(">IH", b[at:at + 6])
        here = prefix + "/" + name(name_off) if index else ""
        if flags & 2:
            count, first = struct.unpack(">II", b[at + 6:at + 14])
            for child in range(first, first + count):
                walk(child, here)
            return
        offset = struct.unpack(">I", b[at + 10:at + 14])[0]
        size = struct.unpack(">I", b[data + offset:data + offset + 4])[0]
        raw = b[data + offset + 4:data + offset + 4 + size]
        if flags & 1:
            raw = zlib.decompress(raw[4:])
        elif flags & 4:
            raise RccError(f"{path}: {here} is zstd-compressed, which this reader does not support")
        out[here] = raw

    walk(0, "")
    return out
