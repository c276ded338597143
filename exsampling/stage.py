"""The return path: what the stage's devices answer (docs/osc.md, "Stage → console"), heard and kept.

Devices say ``hello`` (who is there, which tracks), ``loaded`` (a track read a sample's file, or why not) and
``played`` (a note sounded it). :class:`Stage` binds ``[osc] listen_port`` on the running asyncio loop (the
console kernel's, or ``exsampling serve``'s), keeps the devices it heard, records each answer about a sample in
the library (so cards and phones show the same after a reload or a restart) and calls its listeners back on the
loop. It also speaks the console's half: ``PREFIX/reply`` (where to answer) every 5 s, and
``PREFIX/instruments`` when the names change and in answer to every hello.

Only answers count: a sample is "sent" when its datagram left, "loaded" and "played" when a device says so. And
only the stage's answers: from this machine, the configured stage hosts, or devices the performer accepted (a phone
on the venue's network can reach the port too); the rest is dropped before anything is written.
"""
from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from pythonosc.osc_packet import OscPacket

from .records import StageAnswer
from .show_state import ACCEPTED_KEY, DEVICES_KEY

if TYPE_CHECKING:
    from .config import Config
    from .library import Library
    from .osc import OscSender

log = logging.getLogger(__name__)

#: The contract revision whose answers this module understands (docs/osc.md, ``PREFIX/hello``).
CONTRACT_VERSION = 2
#: Seconds between two ``PREFIX/reply`` announcements.
REPLY_EVERY_S = 5.0
#: The stage is silent when nothing was heard for this long (devices say hello every 3 s).
SILENT_AFTER_S = 10.0
#: A sent sample without a ``loaded`` answer after this long is flagged.
LOAD_WARNING_S = 2.0
#: Devices remembered at most (the least recently heard are forgotten): a hostile LAN cannot grow the table.
MAX_DEVICES = 32
#: Longest device name, track name or reason kept, in characters.
MAX_TEXT = 300
#: Tracks kept per device.
MAX_TRACKS = 128
#: Highest ``played`` count believed (a 3-hour show at 90 notes a second stays under it).
MAX_PLAYED = 1_000_000


@dataclass(frozen=True)
class Hello:
    """``PREFIX/hello``: a device kind, its contract revision and the instrument of each of its tracks."""

    device: str
    version: int
    tracks: tuple[str, ...]


@dataclass(frozen=True)
class Loaded:
    """``PREFIX/loaded``: a track read a sample's file (``ok``) or could not (``reason``)."""

    sample_id: int
    instrument: str
    ok: bool
    reason: str


@dataclass(frozen=True)
class Played:
    """``PREFIX/played``: ``count`` note-ons have sounded the sample on that track since it was loaded."""

    sample_id: int
    count: int
    instrument: str


Answer = Hello | Loaded | Played


def _text(value: Any) -> str | None:
    return value[:MAX_TEXT] if isinstance(value, str) else None


def _int(value: Any) -> int | None:
    # Pd sends floats unless told otherwise; accept whole floats, refuse anything else
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def parse(address: str, args: list[Any], prefix: str = "/exsampling") -> Answer | None:
    """One OSC message as a stage answer, or None when it is not one or is malformed (wrong count or types)."""
    kind = address[len(prefix) + 1:] if address.startswith(prefix + "/") else None
    if kind == "hello" and len(args) >= 2:
        device, version = _text(args[0]), _int(args[1])
        tracks = [_text(t) for t in args[2:2 + MAX_TRACKS]]
        if device and version is not None and all(tracks):
            return Hello(device, version, tuple(t for t in tracks if t))
    elif kind == "loaded" and len(args) >= 4:
        sample_id, instrument, ok, reason = _int(args[0]), _text(args[1]), _int(args[2]), _text(args[3])
        if sample_id is not None and instrument and ok in (0, 1) and reason is not None:
            return Loaded(sample_id, instrument, bool(ok), reason if not ok else "")
    elif kind == "played" and len(args) >= 3:
        sample_id, count, instrument = _int(args[0]), _int(args[1]), _text(args[2])
        if sample_id is not None and count is not None and 0 < count <= MAX_PLAYED and instrument:
            return Played(sample_id, count, instrument)
    return None


@dataclass(frozen=True)
class Device:
    """A device heard saying hello: its name, the address it answered from, its contract revision, its tracks.

    last_heard: ``time.time()`` of its latest hello.
    """

    name: str
    host: str
    version: int
    tracks: tuple[str, ...]
    last_heard: float


def ago(seconds: float) -> str:
    """``seconds`` for a person: "1 s", "45 s", "3 min", "2 h"."""
    whole = int(max(0.0, seconds))  # floor: 9.9 s without an answer is not yet "10 s"
    if whole < 120:
        return f"{whole} s"
    if whole < 7200:
        return f"{whole // 60} min"
    return f"{whole // 3600} h"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


@dataclass(frozen=True)
class StageStatus:
    """The stage as the console's header shows it.

    port: the UDP port the answers are heard on (None when this console does not listen: a read-only page shows
    what the listening console recorded). error: why answers cannot be heard at all, or None.
    devices: those heard within :data:`SILENT_AFTER_S`. last_heard: ``time.time()`` of the latest answer heard (by
    this console, or a hello recorded by the one before it), None when none; since: when listening started.
    """

    port: int | None
    error: str | None
    devices: tuple[Device, ...]
    last_heard: float | None
    since: float
    now: float

    @property
    def silent(self) -> bool:
        """Nothing heard for :data:`SILENT_AFTER_S` (or no way to hear anything)."""
        return self.error is not None or self.now - (self.last_heard or self.since) >= SILENT_AFTER_S

    @property
    def tracks(self) -> int:
        return sum(len(d.tracks) for d in self.devices)

    def text(self) -> str:
        """One line: "stage: 2 devices, 9 tracks, heard 1 s ago", "stage silent: …", or why it cannot hear."""
        if self.error is not None:
            return f"stage answers not heard: {self.error}"
        quiet_for = self.now - (self.last_heard or self.since)
        if quiet_for >= SILENT_AFTER_S:
            return f"stage silent: no device has answered for {ago(quiet_for)}"
        if self.last_heard is None:
            return f"stage: listening on UDP {self.port}, no device yet" if self.port else "stage: no device yet"
        return (f"stage: {_plural(len(self.devices), 'device')}, {_plural(self.tracks, 'track')}, "
                f"heard {ago(self.now - self.last_heard)} ago")


def reply_host_for(target_host: str) -> str:
    """The console's own address on the route to ``target_host``: what the stage should answer to.

    A loopback or unresolvable target gives ``127.0.0.1``.
    """
    try:
        if ipaddress.ip_address(socket.gethostbyname(target_host)).is_loopback:
            return "127.0.0.1"
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect((target_host, 9))  # UDP connect sends nothing; it only picks the outgoing interface
            return str(s.getsockname()[0])
    except OSError:
        return "127.0.0.1"


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, stage: Stage) -> None:
        self.stage = stage

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.stage.receive(data, addr[0])


class Stage:
    """Hears the stage's answers and keeps them; tells the devices where to answer and which names exist.

    Parameters
    ----------
    library : Library — where the answers about samples are recorded (and the devices heard remembered).
    sender : OscSender or None — the console's sender, for ``reply`` and ``instruments``; None: listen only.
    prefix : the OSC address prefix (``[osc] prefix``).
    listen_port : ``[osc] listen_port``; 0 picks a free port (see :attr:`port` once started).
    reply_host : ``[osc] reply_host``; "" = :func:`reply_host_for` the sender's host (found by :meth:`start`).
    stage_hosts : where the stage is besides this machine (``[osc] host`` and ``[osc] stage_hosts``): names or
        addresses, looked up by :meth:`start`. Answers are believed from loopback, from these, and from the
        addresses the performer accepted (:meth:`accept`); any other sender's hello waits in :attr:`asking`, and
        its other answers are dropped.
    clock : the time source (``time.time``), replaceable in tests.

    Attributes
    ----------
    listeners : callables ``f(answer, stage_answer)``, called on the loop after each valid answer;
        ``stage_answer`` is the sample's updated :class:`~exsampling.records.StageAnswer` for ``loaded``/``played``
        (None for ``hello``, or for a sample this library never sent).
    instruments : the names last announced with ``PREFIX/instruments`` (sorted).
    port, error : the bound UDP port, or None with the reason it could not bind.
    asking : devices that said hello from an address not trusted, by address (the newest :data:`MAX_DEVICES`):
        the performer may :meth:`accept` one.
    refused : datagrams dropped because their sender is not trusted.
    """

    def __init__(self, library: Library, sender: OscSender | None = None, *, prefix: str = "/exsampling",
                 listen_port: int = 7401, reply_host: str = "", stage_hosts: Iterable[str] = (),
                 clock: Callable[[], float] = time.time) -> None:
        self.library, self.sender, self.prefix = library, sender, prefix
        self.stage_hosts = tuple(stage_hosts)
        self._trusted = {h for h in self.stage_hosts if _is_address(h)}  # names are looked up by start()
        self.accepted: set[str] = set(library.setting(ACCEPTED_KEY, []))
        self.asking: dict[str, Device] = {}
        self.refused = 0
        self._warned: set[str] = set()
        self.listen_port, self.clock = listen_port, clock
        self.reply_host = reply_host  # "" until start() finds the console's address on the route to the stage
        self.listeners: list[Callable[[Answer, StageAnswer | None], None]] = []
        self.instruments: tuple[str, ...] = ()
        self.port: int | None = None
        self.error: str | None = None
        self.ignored = 0  # datagrams that were not valid answers (shown nowhere; for tests and debugging)
        self._devices: dict[tuple[str, str], Device] = {}
        self._last_heard: float | None = None
        self.follow()  # who was heard before this start (a reload or a restart of the console)
        self._since = clock()
        self._transport: asyncio.DatagramTransport | None = None
        self._beacon: asyncio.Task[None] | None = None

    @classmethod
    def from_config(cls, cfg: Config, library: Library, sender: OscSender | None) -> Stage:
        return cls(library, sender, prefix=cfg.osc.prefix, listen_port=cfg.osc.listen_port,
                   reply_host=cfg.osc.reply_host, stage_hosts=(cfg.osc.host, *cfg.osc.stage_hosts))

    # -- listening ----------------------------------------------------------------------------------------

    async def start(self, patience_s: float = 0.0) -> None:
        """Bind the UDP port on the running loop and start announcing ``reply``.

        ``patience_s``: how long to keep trying while the port is taken (a console handing the show over lets go
        of it). Never raises for a port that cannot be bound: :attr:`error` says why and :meth:`status` shows it,
        because the show goes on without answers.
        """
        loop = asyncio.get_running_loop()
        if not self.reply_host:  # a name lookup may wait on a venue's DNS: not on the loop
            target = self.sender.host if self.sender is not None else "127.0.0.1"
            self.reply_host = await loop.run_in_executor(None, reply_host_for, target)
        self._trusted |= await loop.run_in_executor(None, addresses_of, self.stage_hosts)
        local = self.reply_host == "127.0.0.1"
        deadline = time.monotonic() + patience_s
        while True:
            try:
                transport, _ = await loop.create_datagram_endpoint(
                    lambda: _Protocol(self), local_addr=("127.0.0.1" if local else "0.0.0.0", self.listen_port))
                break
            except OSError as exc:
                if time.monotonic() < deadline:
                    await asyncio.sleep(0.2)
                    continue
                self.error = f"UDP port {self.listen_port} cannot be bound ({exc.strerror or exc}): another console?"
                log.warning("stage: %s", self.error)
                return
        self._transport = transport
        self.port = transport.get_extra_info("sockname")[1]
        self.error = None
        self._since = self.clock()
        self._beacon = asyncio.ensure_future(self._announce_reply())

    def stop(self) -> None:
        """Stop listening and announcing."""
        if self._beacon is not None:
            self._beacon.cancel()
            self._beacon = None
        if self._transport is not None:
            self._transport.close()
            self._transport = None
        self.port = None

    async def _announce_reply(self) -> None:
        while True:
            if self.sender is not None and self.port is not None:
                self.sender.reply(self.reply_host, self.port)
            await asyncio.sleep(REPLY_EVERY_S)

    def announce(self, names: Iterable[str], force: bool = False) -> bool:
        """Tell the devices the instrument names (``PREFIX/instruments``) when they changed (or ``force``).

        Returns whether a message was sent.
        """
        names = tuple(sorted(set(names)))
        if (names == self.instruments and not force) or self.sender is None:
            self.instruments = names
            return False
        self.instruments = names
        return self.sender.instruments(names)

    # -- answers ------------------------------------------------------------------------------------------

    def receive(self, data: bytes, host: str) -> None:
        """Handle one datagram from ``host``: every valid answer in it (a message or a bundle)."""
        try:
            messages = OscPacket(data).messages
        except Exception:  # anyone on the LAN can send anything: a bad datagram is dropped, never raised
            self.ignored += 1
            return
        trusted = self.trusts(host)
        for timed in messages:
            answer = parse(timed.message.address, list(timed.message.params), self.prefix)
            if answer is None:
                self.ignored += 1
            elif trusted:
                self.handle(answer, host)
            else:
                self._untrusted(answer, host)

    # -- whom to believe ---------------------------------------------------------------------------------

    def trusts(self, host: str) -> bool:
        """Whether answers from ``host`` are believed: this machine, the configured stage hosts, or an address the
        performer accepted."""
        return _is_loopback(host) or host in self._trusted or host in self.accepted

    def accept(self, host: str) -> None:
        """Believe ``host``'s answers from now on (kept in the library: a reload or a restart still does); its
        latest hello, if it is :attr:`asking`, makes it a device at once."""
        self.accepted.add(host)
        self.library.set_setting(ACCEPTED_KEY, sorted(self.accepted))
        hello = self.asking.pop(host, None)
        if hello is not None:
            self.handle(Hello(hello.name, hello.version, hello.tracks), host)

    def forget(self, host: str) -> None:
        """Stop believing ``host`` (unless it is this machine or a configured stage host)."""
        self.accepted.discard(host)
        self.library.set_setting(ACCEPTED_KEY, sorted(self.accepted))

    def _untrusted(self, answer: Answer, host: str) -> None:
        self.refused += 1
        if isinstance(answer, Hello):  # kept in memory only, bounded: the console may offer to accept it
            self.asking.pop(host, None)
            self.asking[host] = Device(answer.device, host, answer.version, answer.tracks, self.clock())
            while len(self.asking) > MAX_DEVICES:
                del self.asking[next(iter(self.asking))]
            if host not in self._warned and len(self._warned) < MAX_DEVICES:  # once per address, a few addresses
                self._warned.add(host)
                log.warning("stage: answers from %s are not believed (not loopback, not [osc] host or stage_hosts, "
                            "not accepted on the console)", host)

    def handle(self, answer: Answer, host: str) -> StageAnswer | None:
        """Apply one answer from ``host``, a sender :meth:`receive` believes; returns the sample's updated answers
        (None for hello, an unknown id, or an answer naming another track than the sample's, which is dropped)."""
        now = self.clock()
        if not isinstance(answer, Hello) and not self._about_its_track(answer):
            self.ignored += 1
            return None
        self._last_heard = now
        updated = None
        if isinstance(answer, Hello):
            self._hello(answer, host, now)
        elif isinstance(answer, Loaded):
            updated = self.library.stage_loaded(answer.sample_id, answer.ok, answer.reason, answer.instrument, now,
                                                actor=f"stage:{host}")
        else:
            updated = self.library.stage_played(answer.sample_id, answer.count, answer.instrument, now,
                                                actor=f"stage:{host}")
        for listener in list(self.listeners):
            try:
                listener(answer, updated)
            except Exception:  # one broken view must not stop the others from hearing the stage
                log.exception("stage listener failed")
        return updated

    def _about_its_track(self, answer: Loaded | Played) -> bool:
        """Whether ``answer`` names the instrument its sample was sent to (an unknown sample: nothing to check,
        nothing is recorded)."""
        try:
            return self.library.sample(answer.sample_id).instrument == answer.instrument
        except KeyError:
            return True

    def _hello(self, hello: Hello, host: str, now: float) -> None:
        self._devices[(hello.device, host)] = Device(hello.device, host, hello.version, hello.tracks, now)
        if len(self._devices) > MAX_DEVICES:
            oldest = min(self._devices, key=lambda k: self._devices[k].last_heard)
            del self._devices[oldest]
        # one small write per hello (every 3 s): the next owner of the show, or a read-only page, sees the same
        self.library.set_setting(DEVICES_KEY, [asdict(d) for d in self._devices.values()])
        if self.sender is not None and self.instruments:
            self.sender.instruments(self.instruments)

    # -- what the console shows ---------------------------------------------------------------------------

    def devices(self) -> list[Device]:
        """Every device remembered, most recently heard first."""
        return sorted(self._devices.values(), key=lambda d: -d.last_heard)

    def status(self) -> StageStatus:
        """Devices heard lately, last heard, silent or not (see :class:`StageStatus`)."""
        now = self.clock()
        recent = tuple(d for d in self.devices() if now - d.last_heard < SILENT_AFTER_S)
        return StageStatus(self.port, self.error, recent, self._last_heard, self._since, now)

    def follow(self) -> None:
        """For a console that does not listen (read-only): take the devices as the listening console recorded them."""
        for d in self.library.setting(DEVICES_KEY, []):
            self._devices[(d["name"], d["host"])] = Device(d["name"], d["host"], d["version"], tuple(d["tracks"]),
                                                           d["last_heard"])
        self._last_heard = max((d.last_heard for d in self._devices.values()), default=self._last_heard)

    def followed(self) -> set[str]:
        """The instruments that a track of a device heard lately follows."""
        return {track for device in self.status().devices for track in device.tracks}

    def unconfirmed(self, answers: Iterable[StageAnswer]) -> list[int]:
        """Ids of the samples among ``answers`` sent at least :data:`LOAD_WARNING_S` ago and still not loaded."""
        now = self.clock()
        return [a.sample_id for a in answers if unconfirmed(a, now)]


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _is_loopback(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


def addresses_of(hosts: Iterable[str]) -> set[str]:
    """Every address the names or addresses ``hosts`` stand for (a name that does not resolve stands for none)."""
    found: set[str] = set()
    for host in hosts:
        try:
            found |= {str(info[4][0]) for info in socket.getaddrinfo(host, None, type=socket.SOCK_DGRAM)}
        except (OSError, UnicodeError):
            log.warning("stage: %s does not resolve: its answers are not believed until it does", host)
    return found


def unconfirmed(answer: StageAnswer, now: float) -> bool:
    """Whether ``answer`` is still without any answer :data:`LOAD_WARNING_S` after its send (``now``:
    ``time.time()``)."""
    return answer.loaded is None and answer.played == 0 and now - answer.sent_at >= LOAD_WARNING_S
