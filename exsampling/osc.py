"""OSC out: the console's messages of docs/osc.md, built as plain data and sent over UDP with python-osc."""
from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.udp_client import SimpleUDPClient

from .records import Sample

if TYPE_CHECKING:
    from .config import Config


def _int(v: int) -> tuple[int, str]:
    return (int(v), "i")


def _float(v: float) -> tuple[float, str]:
    return (float(v), "f")


def _str(v: str) -> tuple[str, str]:
    return (str(v), "s")


def stage_path(path: str, sample_root: str = "") -> str:
    """Where the stage finds the sample file ``path``: ``path`` itself, or ``sample_root`` + its file name.

    ``sample_root`` is the library's samples folder as the stage computer sees it (``[osc] sample_root``); its own
    separator is kept, so a Windows root (``Z:\\show\\samples``) gets a backslash.
    """
    if not sample_root:
        return path
    separator = "\\" if "\\" in sample_root and "/" not in sample_root else "/"
    return sample_root.rstrip("/\\") + separator + Path(path).name


def _typed_args(sample: Sample, sample_root: str) -> list[tuple[Any, str]]:
    loc = sample.location
    return [
        _int(sample.id),
        _str(stage_path(sample.path, sample_root)),
        _str(sample.label or ""),
        _float(sample.confidence),
        _str(sample.instrument or ""),
        _int(1 if sample.melodic else 0),
        _float(sample.pitch_hz if sample.pitch_hz is not None else 0.0),
        _int(sample.midi_note if sample.midi_note is not None else -1),
        _float(loc.lat if loc else 0.0),
        _float(loc.lon if loc else 0.0),
        _float((loc.accuracy_m if loc.accuracy_m is not None else 0.0) if loc else -1.0),
        _str(sample.participant),
        _str(sample.recorded_at),
    ]


def sample_message(sample: Sample, prefix: str = "/exsampling",
                   sample_root: str = "") -> tuple[str, list[tuple[Any, str]]]:
    """``PREFIX/sample/<instrument>`` for ``sample``: the address and its 13 (value, type tag) arguments.

    The path is the one the stage sees (:func:`stage_path`). Raises ValueError if the sample has no instrument
    (nothing to route it to).
    """
    if not sample.instrument:
        raise ValueError(f"sample {sample.id} has no instrument: it cannot be sent to a track")
    return f"{prefix}/sample/{sample.instrument}", _typed_args(sample, sample_root)


def withdraw_message(sample: Sample, prefix: str = "/exsampling") -> tuple[str, list[tuple[Any, str]]]:
    """``PREFIX/withdraw/<instrument>`` for a sample the performer took back."""
    if not sample.instrument:
        raise ValueError(f"sample {sample.id} has no instrument")
    return f"{prefix}/withdraw/{sample.instrument}", [_int(sample.id)]


def note_message(instrument: str, note: int, velocity: int,
                 prefix: str = "/exsampling") -> tuple[str, list[tuple[Any, str]]]:
    """``PREFIX/note/<instrument>``: MIDI ``note`` 0–127 at ``velocity`` 0–127 (0 = note off)."""
    if not (0 <= note <= 127 and 0 <= velocity <= 127):
        raise ValueError(f"note={note} and velocity={velocity} must both be in 0..127")
    return f"{prefix}/note/{instrument}", [_int(note), _int(velocity)]


def instruments_message(names: Iterable[str], prefix: str = "/exsampling") -> tuple[str, list[tuple[Any, str]]]:
    """``PREFIX/instruments``: every instrument name the console may send to, sorted, one string each."""
    return f"{prefix}/instruments", [_str(name) for name in sorted(set(names))]


def reply_message(host: str, port: int, prefix: str = "/exsampling") -> tuple[str, list[tuple[Any, str]]]:
    """``PREFIX/reply``: the devices' answers go to ``host``:``port`` (UDP)."""
    if not 0 < port < 65536:
        raise ValueError(f"reply port {port} is not a UDP port")
    return f"{prefix}/reply", [_str(host), _int(port)]


def build(address: str, args: list[tuple[Any, str]]) -> OscMessage:
    """The OSC message for ``address`` with explicitly typed ``args`` (never let floats collapse to ints)."""
    builder = OscMessageBuilder(address=address)
    for value, tag in args:
        builder.add_arg(value, tag)
    return builder.build()


class OscSender:
    """Sends the contract's messages to one UDP target.

    UDP sends without connecting: a missing receiver is silent. ``last_sent`` holds the time
    (``time.time()``) of the latest successful send, ``last_error`` the latest socket error, so the
    console can show whether the stage is reachable.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 7400, prefix: str = "/exsampling",
                 sample_root: str = "") -> None:
        self.host, self.port, self.prefix, self.sample_root = host, port, prefix, sample_root
        self._client = SimpleUDPClient(host, port)
        self.last_sent: float | None = None
        self.last_error: str | None = None
        #: the names last sent in ``PREFIX/instruments`` (None: never announced, e.g. ``classify --send``)
        self.announced: frozenset[str] | None = None

    @classmethod
    def from_config(cls, cfg: Config) -> OscSender:
        return cls(cfg.osc.host, cfg.osc.port, cfg.osc.prefix, cfg.osc.sample_root)

    def _send(self, message: tuple[str, list[tuple[Any, str]]]) -> bool:
        try:
            self._client.send(build(*message))
        except OSError as exc:
            self.last_error = f"{self.host}:{self.port}: {exc.strerror or exc}"
            return False
        self.last_sent = time.time()
        self.last_error = None
        return True

    def sample(self, sample: Sample) -> bool:
        """Send ``PREFIX/sample/<instrument>``; True when the datagram left this machine.

        Once names have been announced, a sample for a name the devices were not told (a live-coded rule's new
        track) is preceded by ``PREFIX/instruments`` with it: a device makes its track from that message, so the
        first sound reaches it too.
        """
        if self.announced is not None and sample.instrument and sample.instrument not in self.announced:
            self.instruments(self.announced | {sample.instrument})
        return self._send(sample_message(sample, self.prefix, self.sample_root))

    def withdraw(self, sample: Sample) -> bool:
        """Send ``PREFIX/withdraw/<instrument>``."""
        return self._send(withdraw_message(sample, self.prefix))

    def note(self, instrument: str, note: int, velocity: int = 100) -> bool:
        """Send ``PREFIX/note/<instrument>`` (velocity 0 ends the note)."""
        return self._send(note_message(instrument, note, velocity, self.prefix))

    def instruments(self, names: Iterable[str]) -> bool:
        """Send ``PREFIX/instruments`` with ``names``."""
        names = frozenset(names)
        sent = self._send(instruments_message(names, self.prefix))
        if sent:
            self.announced = names
        return sent

    def reply(self, host: str, port: int) -> bool:
        """Send ``PREFIX/reply``: tell the devices where to answer."""
        return self._send(reply_message(host, port, self.prefix))

