"""Connections a crowd (or an attacker) cannot use to stall the show, and a log they cannot flood.

:class:`GuardedHTTPServer` is Tornado's HTTP server with a cap on open connections shared by every listener
of one show (:class:`ConnectionGuard`): when the cap is reached, the connection idle the longest is closed to
make room (never one in the middle of a request), and when the process runs out of file descriptors, accepting
pauses for a moment instead of spinning. Tornado's own timeouts close connections that send their headers or
their body too slowly. :class:`OncePerMinute` keeps one line per kind of refusal in the log.
"""
from __future__ import annotations

import errno
import logging
import resource
import socket
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

import psutil
import tornado.httpserver
import tornado.httputil
from tornado.ioloop import IOLoop

log = logging.getLogger(__name__)

#: Descriptors left for everything but connections (SQLite, recordings being written, pipes, the kernel's own).
RESERVED_DESCRIPTORS = 64
#: How long accepting pauses when the process has no descriptor left, in seconds.
ACCEPT_PAUSE_S = 0.1
_OUT_OF_DESCRIPTORS = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)


def raise_descriptor_limit() -> int:
    """Raise this process's soft limit on open files to its hard limit where the system allows; the limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for target in (hard, 65_536, 10_240):  # macOS refuses "unlimited" and anything over OPEN_MAX
        if soft < target and (hard == resource.RLIM_INFINITY or target <= hard):
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
                return target
            except (ValueError, OSError):
                continue
    return soft


def connection_cap(wanted: int) -> int:
    """At most ``wanted`` connections, and no more than the descriptors left after those open now and a reserve."""
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    left = (soft if soft != resource.RLIM_INFINITY else 1 << 20) - psutil.Process().num_fds() - RESERVED_DESCRIPTORS
    return max(8, min(wanted, left))


class OncePerMinute(logging.Filter):
    """Let one warning or error of each kind through per ``interval_s`` seconds; the next one says how many were
    dropped. Information lines all pass.

    A record's kind is its logger, level and message template (``record.msg``), or its ``kind`` attribute when
    the caller gives one (``extra={"kind": …}``): a flood of one refusal or one traceback costs one line a
    minute, while different problems are each reported.
    """

    def __init__(self, interval_s: float = 60.0) -> None:
        super().__init__()
        self.interval_s = interval_s
        self._seen: dict[tuple, list] = {}  # kind → [when last let through, dropped since]

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        kind = (record.name, record.levelno, str(getattr(record, "kind", record.msg)))
        now = time.monotonic()
        seen = self._seen.get(kind)
        if seen is not None and now - seen[0] < self.interval_s:
            seen[1] += 1
            return False
        if seen is not None and seen[1]:
            record.msg = f"{record.msg} ({seen[1]} more like this in the last {now - seen[0]:.0f} s)"
        self._seen[kind] = [now, 0]
        if len(self._seen) > 1000:  # a flood of distinct messages must not grow this without bound
            self._seen = {k: v for k, v in self._seen.items() if now - v[0] < self.interval_s}
        return True


def quiet_floods(*loggers: str) -> None:
    """Put a :class:`OncePerMinute` filter on each named logger (once)."""
    for name in loggers:
        target = logging.getLogger(name)
        if not any(isinstance(f, OncePerMinute) for f in target.filters):
            target.addFilter(OncePerMinute())


class ConnectionGuard:
    """The connections of one show's listeners (by their streams): how many, which are idle (oldest first).

    A connection is idle from its accept, and between requests, until a request's headers have arrived."""

    def __init__(self, max_connections: int) -> None:
        self.max_connections = max_connections
        self._open: set[Any] = set()
        self._idle: OrderedDict[Any, None] = OrderedDict()

    @property
    def open(self) -> int:
        """How many connections are open."""
        return len(self._open)

    def admit(self) -> bool:
        """Make room for one more connection: True if there is room (an idle one may have been closed)."""
        if self.open < self.max_connections:
            return True
        if not self._idle:
            log.warning("connection limit (%d) reached and every connection is busy: new ones are closed",
                        self.max_connections)
            return False
        self.evict()
        return True

    def evict(self) -> None:
        """Close the connection idle the longest, if any."""
        if self._idle:
            stream, _ = self._idle.popitem(last=False)
            log.warning("connection limit (%d) reached: closing the connections idle the longest",
                        self.max_connections)
            stream.close()

    def close_idle(self) -> None:
        """Close every connection waiting for a request (when the show stops listening)."""
        for stream in list(self._idle):
            stream.close()
        self._idle.clear()

    def close_all(self) -> None:
        """Close every connection, busy or not (when another process takes the show over)."""
        for stream in list(self._open):
            stream.close()

    def opened(self, stream: Any) -> None:
        self._open.add(stream)
        self.idle(stream)

    def idle(self, stream: Any) -> None:
        self._idle[stream] = None
        self._idle.move_to_end(stream)

    def busy(self, stream: Any) -> None:
        self._idle.pop(stream, None)

    def closed(self, stream: Any) -> None:
        self._idle.pop(stream, None)
        self._open.discard(stream)


class _Watched(tornado.httputil.HTTPMessageDelegate):
    """A request's delegate that tells the guard when its connection stops being idle."""

    def __init__(self, inner: tornado.httputil.HTTPMessageDelegate, guard: ConnectionGuard, stream: Any) -> None:
        self.inner, self.guard, self.stream = inner, guard, stream

    def headers_received(self, start_line, headers):
        self.guard.busy(self.stream)
        return self.inner.headers_received(start_line, headers)

    def data_received(self, chunk):
        return self.inner.data_received(chunk)

    def finish(self) -> None:
        self.inner.finish()

    def on_connection_close(self) -> None:
        self.inner.on_connection_close()


class GuardedHTTPServer(tornado.httpserver.HTTPServer):
    """Tornado's HTTPServer counting its connections in a shared :class:`ConnectionGuard` (``guard=``)."""

    def initialize(self, *args: Any, guard: ConnectionGuard, **kwargs: Any) -> None:  # type: ignore[override]
        super().initialize(*args, **kwargs)
        self.guard = guard

    def add_sockets(self, sockets: Iterable[socket.socket]) -> None:
        # Tornado's accept loop raises on EMFILE and the IOLoop calls it again at once, for ever (100 % CPU
        # and a traceback each time); this one makes room or pauses.
        for sock in sockets:
            self._sockets[sock.fileno()] = sock
            self._handlers[sock.fileno()] = self._accept_from(sock)

    def _accept_from(self, sock: socket.socket) -> Callable[[], None]:
        loop, removed = IOLoop.current(), [False]

        def accept(fd: Any, events: int) -> None:
            for _ in range(128):  # then let other work run
                if removed[0]:
                    return
                try:
                    connection, address = sock.accept()
                except BlockingIOError:
                    return
                except ConnectionAbortedError:
                    continue
                except OSError as exc:
                    if exc.errno not in _OUT_OF_DESCRIPTORS:
                        raise
                    log.warning("out of file descriptors (%s): closing idle connections, pausing accepts",
                                exc.strerror)
                    self.guard.evict()
                    loop.remove_handler(sock)
                    loop.call_later(ACCEPT_PAUSE_S, resume)
                    return
                if not self.guard.admit():
                    connection.close()
                    continue
                self._handle_connection(connection, address)

        def resume() -> None:
            if not removed[0]:
                loop.add_handler(sock, accept, IOLoop.READ)

        def remove() -> None:
            removed[0] = True
            loop.remove_handler(sock)

        loop.add_handler(sock, accept, IOLoop.READ)
        return remove

    def handle_stream(self, stream: Any, address: tuple) -> None:
        self.guard.opened(stream)
        super().handle_stream(stream, address)

    def start_request(self, server_conn: Any, request_conn: Any) -> tornado.httputil.HTTPMessageDelegate:
        self.guard.idle(server_conn.stream)  # waiting for a request's headers: closable when room is needed
        return _Watched(super().start_request(server_conn, request_conn), self.guard, server_conn.stream)

    def on_close(self, server_conn: Any) -> None:
        self.guard.closed(server_conn.stream)
        super().on_close(server_conn)

