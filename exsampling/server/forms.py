"""``multipart/form-data`` read as it arrives (RFC 7578), for the upload route.

The audio file part goes to a file while it streams in, and the disk is asked to start writing each piece at
once: a crowd's recordings all finish arriving at about the same moment (the network shares itself fairly), and
the disk then has only their last pieces left to write before they are durable, instead of every byte. Nothing
is copied into one big body first. The other parts (short fields, a photo) are kept in memory.

Each part's headers go through Tornado's own form parser (as a form of one empty part), so a part is refused
where ``tornado.httputil.parse_body_arguments`` refuses it: a NUL, headers over 10 KiB, a disposition that is not
``form-data``, no name.
"""
from __future__ import annotations

import functools
import os
import secrets
from collections.abc import Callable
from concurrent.futures import Executor, Future
from pathlib import Path
from typing import BinaryIO

import tornado.httputil

#: Longest header block of one part, in bytes, and most parts in one form (Tornado's own limits).
MAX_PART_HEADER_BYTES = 10 * 1024
MAX_PARTS = 100
#: Bytes of a spooled file kept in memory from its start (enough for any format's magic bytes).
HEAD_BYTES = 16
#: Bytes a spooled file gathers before they go to its writer's thread.
PIECE_BYTES = 128 * 1024


class FormError(ValueError):
    """The body is not a complete, well-formed ``multipart/form-data`` form."""


def boundary_of(content_type: str) -> bytes:
    """The boundary a ``multipart/form-data`` Content-Type names; :class:`FormError` for any other type."""
    kind, *params = content_type.split(";")
    if kind.strip() != "multipart/form-data":
        raise FormError(f"not a multipart/form-data form ({kind.strip()[:40] or 'no type'})")
    for param in params:
        key, _, value = param.strip().partition("=")
        if key == "boundary" and value:
            boundary = value.encode("utf-8", "surrogateescape")
            return boundary[1:-1] if boundary.startswith(b'"') and boundary.endswith(b'"') else boundary
    raise FormError("the form names no boundary")


#: The boundary of the one-part forms :func:`describe_part` hands Tornado: one no sender can put in its headers.
_MARK = secrets.token_hex(16).encode()


@functools.lru_cache(maxsize=256)
def describe_part(headers: bytes) -> tuple[str, str | None]:
    """A part's ``(name, file name or None for a field)`` from its header block, checked by Tornado's parser.
    Remembered: a crowd's recorders send the same few header blocks, and Tornado's parser is slow."""
    fields: dict[str, list[bytes]] = {}
    files: dict[str, list[tornado.httputil.HTTPFile]] = {}
    try:
        tornado.httputil.parse_multipart_form_data(_MARK, b"--%s\r\n%s\r\n\r\n\r\n--%s--\r\n" % (_MARK, headers, _MARK),
                                                   fields, files)
    except (tornado.httputil.HTTPInputError, ValueError) as exc:  # ValueError: headers that are not UTF-8
        raise FormError(f"a broken part: {exc}") from None
    for name, [file] in files.items():
        return name, file.filename
    return next(iter(fields)), None


class Spool:
    """A file part written to ``path`` as its bytes arrive, on ``writer``'s one thread, in order: the loop never
    waits on the disk (a file system committing other files' fsyncs can hold a create or a write for tens of
    milliseconds). Pieces go over :data:`PIECE_BYTES` at a time: each hand-over costs the loop the GIL for a
    moment. Where the system allows, the disk starts writing each piece at once."""

    def __init__(self, path: Path, writer: Executor) -> None:
        self.path, self._writer = path, writer
        self.head = b""  # the first HEAD_BYTES bytes
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._file: BinaryIO | None = None
        self._written = 0
        self._failed: OSError | None = None

    def write(self, data: memoryview) -> None:
        if len(self.head) < HEAD_BYTES:
            self.head += bytes(data[:HEAD_BYTES - len(self.head)])
        self._pending.append(bytes(data))
        self._pending_bytes += len(data)
        if self._pending_bytes >= PIECE_BYTES:
            self._hand_over()

    def close(self) -> Future[None]:
        """Done once every piece is in the file (not yet synced), or the OSError that stopped it (the file is
        then removed)."""
        self._hand_over()
        return self._writer.submit(self._close)

    def discard(self) -> None:
        """Remove the file (after the pieces already handed over)."""
        self._pending = []
        self._writer.submit(self._discard)

    def _hand_over(self) -> None:
        if self._pending:
            self._writer.submit(self._write, self._pending, self._pending_bytes)
            self._pending, self._pending_bytes = [], 0

    # On the writer's thread:

    def _open(self) -> BinaryIO:
        if self._file is None:
            self._file = open(self.path, "xb")  # noqa: SIM115  # closed by _close()/_discard()
        return self._file

    def _write(self, pieces: list[bytes], size: int) -> None:
        if self._failed is not None:
            return
        try:
            file = self._open()
            file.writelines(pieces)
            file.flush()
            if hasattr(os, "posix_fadvise"):  # Linux: DONTNEED on dirty pages starts their writeback, keeps them
                os.posix_fadvise(file.fileno(), self._written, size, os.POSIX_FADV_DONTNEED)
            self._written += size
        except OSError as exc:
            self._failed = exc

    def _close(self) -> None:
        if self._failed is None:
            try:
                self._open().close()
            except OSError as exc:
                self._failed = exc
        if self._failed is not None:
            self._discard()
            raise self._failed

    def _discard(self) -> None:
        if self._file is not None:
            self._file.close()
        self.path.unlink(missing_ok=True)


class FormReader:
    """One ``multipart/form-data`` body, read chunk by chunk (:meth:`feed`, then :meth:`close`).

    The first file part named ``spool_name`` is written to a new file at ``spool_path()`` by ``writer``
    (:attr:`spool`); the first value of each other field and file is kept in :attr:`fields` and :attr:`files`,
    later ones with the same name are dropped (as the upload route reads only the first), and so are the parts
    named in ``dropped`` (read past, never kept). A preamble and an epilogue are ignored. :meth:`feed` and
    :meth:`close` raise :class:`FormError` for a malformed form; :meth:`discard` removes the file.
    """

    def __init__(self, content_type: str, spool_name: str, spool_path: Callable[[], Path], writer: Executor,
                 dropped: frozenset[str] = frozenset()) -> None:
        self._delimiter = b"\r\n--" + boundary_of(content_type)
        self._spool_name, self._spool_path, self._writer = spool_name, spool_path, writer
        self._dropped = dropped
        self._buffer = bytearray(b"\r\n")  # the first boundary line has no line break before it
        self._step = self._preamble
        self._sink: bytearray | Spool | None = None
        self._parts = 0
        self.fields: dict[str, bytearray] = {}
        self.files: dict[str, bytearray] = {}
        self.spool: Spool | None = None

    def feed(self, chunk: bytes) -> None:
        """Take the next piece of the body."""
        self._buffer += chunk
        while self._step():
            pass

    def close(self) -> None:
        """The body has ended: :class:`FormError` unless the form was complete."""
        if self._step != self._done:
            raise FormError("the form is cut short (no final boundary)")

    def discard(self) -> None:
        """Drop the spooled file (an upload refused, or gone)."""
        if self.spool is not None:
            self.spool.discard()

    # Each step parses what the buffer allows; True when the next one can go on at once.

    def _preamble(self) -> bool:
        return self._until_delimiter(None)

    def _body(self) -> bool:
        return self._until_delimiter(self._sink)

    def _until_delimiter(self, sink: bytearray | Spool | None) -> bool:
        """Hand ``sink`` everything up to the next delimiter; past it, the next part. Bytes that could be the
        start of a delimiter stay in the buffer until the next chunk tells."""
        buffer, delimiter = self._buffer, self._delimiter
        at = buffer.find(delimiter)
        end = at if at >= 0 else max(0, len(buffer) - len(delimiter) + 1)
        if sink is not None and end:
            with memoryview(buffer) as view, view[:end] as data:
                if isinstance(sink, Spool):
                    sink.write(data)
                else:
                    sink.extend(data)
        if at < 0:
            del buffer[:end]
            return False
        del buffer[:at + len(delimiter)]
        self._end_part()
        self._step = self._after_delimiter
        return True

    def _after_delimiter(self) -> bool:
        if len(self._buffer) < 2:
            return False
        if self._buffer.startswith(b"--"):
            self._step = self._done
            return False
        if not self._buffer.startswith(b"\r\n"):
            raise FormError("a boundary is followed by neither a line break nor '--'")
        self._step = self._headers
        return True

    def _headers(self) -> bool:
        eoh = self._buffer.find(b"\r\n\r\n")
        if eoh < 0:
            if len(self._buffer) > MAX_PART_HEADER_BYTES:
                raise FormError("a part's headers are too long")
            return False
        self._parts += 1
        if self._parts > MAX_PARTS:
            raise FormError(f"the form has more than {MAX_PARTS} parts")
        self._begin_part(*describe_part(bytes(self._buffer[2:eoh])))
        del self._buffer[:eoh + 4]
        self._step = self._body
        return True

    def _done(self) -> bool:
        self._buffer.clear()  # the epilogue
        return False

    def _begin_part(self, name: str, filename: str | None) -> None:
        if name in self._dropped:
            self._sink = None
            return
        if filename is not None and name == self._spool_name and self.spool is None:
            self.spool = self._sink = Spool(self._spool_path(), self._writer)
            return
        kept = self.files if filename is not None else self.fields
        self._sink = None if name in kept else kept.setdefault(name, bytearray())

    def _end_part(self) -> None:
        self._sink = None
