"""OSC out: the messages of docs/osc.md, built as plain data and sent over UDP with python-osc."""
from __future__ import annotations

import time
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


def _typed_args(sample: Sample) -> list[tuple[Any, str]]:
    loc = sample.location
    return [
        _int(sample.id),
        _str(sample.path),
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


def sample_message(sample: Sample, prefix: str = "/exsampling") -> tuple[str, list[tuple[Any, str]]]:
    """``PREFIX/sample/<instrument>`` for ``sample``: the address and its 13 (value, type tag) arguments.

    Raises ValueError if the sample has no instrument (nothing to route it to).
    """
    if not sample.instrument:
        raise ValueError(f"sample {sample.id} has no instrument: it cannot be sent to a track")
    return f"{prefix}/sample/{sample.instrument}", _typed_args(sample)


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

    def __init__(self, host: str = "127.0.0.1", port: int = 7400, prefix: str = "/exsampling") -> None:
        self.host, self.port, self.prefix = host, port, prefix
        self._client = SimpleUDPClient(host, port)
        self.last_sent: float | None = None
        self.last_error: str | None = None

    @classmethod
    def from_config(cls, cfg: Config) -> OscSender:
        return cls(cfg.osc.host, cfg.osc.port, cfg.osc.prefix)

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
        """Send ``PREFIX/sample/<instrument>``; True when the datagram left this machine."""
        return self._send(sample_message(sample, self.prefix))

    def withdraw(self, sample: Sample) -> bool:
        """Send ``PREFIX/withdraw/<instrument>``."""
        return self._send(withdraw_message(sample, self.prefix))

    def note(self, instrument: str, note: int, velocity: int = 100) -> bool:
        """Send ``PREFIX/note/<instrument>`` (velocity 0 ends the note)."""
        return self._send(note_message(instrument, note, velocity, self.prefix))

