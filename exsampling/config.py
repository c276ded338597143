"""One typed configuration, loaded from a TOML file over documented defaults (see docs/config.md)."""
from __future__ import annotations

import math
import tomllib
from dataclasses import asdict, dataclass, field, fields, is_dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

import tomli_w
import tomlkit

from .mapping import (
    DEFAULT_MAPPING,
    DEFAULT_MELODIC,
    MappingError,
    check_instrument_name,
    check_label,
    check_mapping,
)
from .resources import default_model

#: The config file the console and the show commands read when none is named (relative to the working directory).
DEFAULT_CONFIG_NAME = "exsampling.toml"


class ConfigError(ValueError):
    """The configuration file cannot be read or holds a value out of range.

    The message names the key, quotes the bad value as the file writes it and says what is allowed, e.g.
    ``osc.port = 70000: must be a UDP port, 1-65535``.
    """

    def _render_traceback_(self) -> list[str]:
        # IPython (the console's page) shows this instead of a traceback: what to fix, not where it was noticed
        return [f"ConfigError: {self}"]


@dataclass(frozen=True)
class AudioConfig:
    """How recordings are decoded, trimmed and cut.

    sample_rate: in Hz, the rate of the chain when no model is loaded and of the MobileNetV2 models that
        ``exsampling train`` makes; a loaded model's sidecar names the rate the chain really decodes at.
    max_duration_s: longest recording accepted, in seconds; longer ones are refused before decoding.
    trim_top_db: what lies more than this many dB below the peak is trimmed from both ends (paper: 20 dB).
    silence_floor_dbfs: a recording whose peak is below this level (dB re full scale) is "nothing audible".
    segment_s: length of one sample, in seconds (paper: 5 s).
    min_tail_s: a last piece shorter than this (seconds) is dropped; a longer one becomes a shorter sample.
    """

    sample_rate: int = 22050
    max_duration_s: float = 120.0
    trim_top_db: float = 20.0
    silence_floor_dbfs: float = -60.0
    segment_s: float = 5.0
    min_tail_s: float = 1.0


@dataclass(frozen=True)
class FeaturesConfig:
    """Log-mel spectrogram parameters; a model is only used with the parameters it was trained with.

    n_fft: FFT window in samples (2048 ≈ 93 ms at 22050 Hz). hop_length: samples between frames
    (512 ≈ 23 ms). n_mels: mel bands = image height. fmin_hz/fmax_hz: band edges in Hz.
    """

    n_fft: int = 2048
    hop_length: int = 512
    n_mels: int = 64
    fmin_hz: float = 20.0
    fmax_hz: float = 11025.0


@dataclass(frozen=True)
class ClassifierConfig:
    """Which model classifies, and how its answer is reported.

    model: path of the ``.keras`` file (its ``.json`` sidecar sits beside it).
    top_k: how many labels with probabilities each sample keeps.
    unsure_below: the answer's track probability (the summed probability of the labels mapped to its instrument)
        below this marks the sample "unsure" (exsampling.unsure; calibrated for the bundled model).
    memory: let the performer's re-labelled samples vote on similar new sounds (exsampling.memory).
    memory_max_distance: the vote's radius: cosine distance beyond which a remembered sample has no say.
    memory_strength: evidence (in perfect matches) at which the memory gets half the say against the model.
    adapt: with ``memory``, let the re-labelled samples also retune the model's answers beyond the vote's radius
        (exsampling.adapt).
    adapt_anchor: how firmly the answers are held at the shipped model's (> 0; larger: corrections move less).
    adapt_width: how far a correction reaches, in cosine distance between embeddings (> 0).
    own_label_above: a piece takes its recording's class (pooled over the recording's pieces) unless its own best
        label is another one with at least this probability (exsampling.judgement).
    """

    model: str = str(default_model())
    top_k: int = 3
    unsure_below: float = 0.35
    memory: bool = True
    memory_max_distance: float = 0.1
    memory_strength: float = 1.0
    adapt: bool = True
    adapt_anchor: float = 0.01
    adapt_width: float = 0.3
    own_label_above: float = 0.8


@dataclass(frozen=True)
class PitchConfig:
    """Pitch detection range and voicing rule.

    fmin_hz/fmax_hz: lowest and highest pitch searched, in Hz (C2 ≈ 65.4 Hz, C8 ≈ 4186 Hz).
    threshold: YIN dip threshold; frames whose best dip is above it are unvoiced.
    min_confidence: below this overall confidence the sample is reported unpitched.
    """

    fmin_hz: float = 50.0
    fmax_hz: float = 4400.0
    threshold: float = 0.2
    min_confidence: float = 0.6


@dataclass(frozen=True)
class OscConfig:
    """The OSC link with the stage, both ways (docs/osc.md).

    host/port: where the console's messages go. prefix: first address part of every message.
    listen_port: UDP port the console hears the stage's answers on (0: any free port, for tests).
    reply_host: the console's address announced to the devices; "" = its own address on the route to ``host``.
    sample_root: the library's samples folder as the stage computer sees it (a shared folder); "" = the stage
    runs on this computer and reads the library's own paths.
    stage_hosts: more computers of the stage besides ``host`` (names or addresses) whose answers are believed;
    answers from anywhere else are dropped unless the performer accepts the device on the console.
    """

    host: str = "127.0.0.1"
    port: int = 7400
    prefix: str = "/exsampling"
    listen_port: int = 7401
    reply_host: str = ""
    sample_root: str = ""
    stage_hosts: tuple[str, ...] = ()


@dataclass(frozen=True)
class LibraryConfig:
    """Where recordings, samples and the SQLite database are kept (a folder)."""

    path: str = "exsampling-library"


@dataclass(frozen=True)
class ServerConfig:
    """The participants' upload server (docs/http.md).

    host/port: where it listens (plain HTTP on 127.0.0.1:port, HTTPS on the LAN at port + 1).
    token: the show token ("" = a random one made on the first start and kept in the library, so the
    printed QR codes stay valid after a restart).
    max_upload_mb: largest request body, in MiB. max_recording_s: longest recording a participant may send.
    rate_limit: recordings stored per phone (the recorder's device id, else the address) per ``rate_window_s``
    seconds. rate_limit_per_address: recordings stored per address per window, whatever the device ids
    (a venue's NAT or a tunnel puts many phones behind one address).
    max_connections: open connections at most (also bounded by the process's file descriptors).
    idle_timeout_s: seconds a connection may take to send a request's headers, or sit idle between requests.
    body_timeout_s: seconds a request may take to send its body.
    public_url: the URL participants use, if it differs from what is served (a reverse proxy).
    ngrok_token: an ngrok auth token; also read from ``NGROK_AUTHTOKEN``. Empty = no tunnel.
    ngrok_domain: a fixed ngrok domain (e.g. a free static one): the tunnel's URL, so the QR code, never changes.
    tls: serve HTTPS with a self-signed certificate when listening beyond localhost.
    disk_reserve_mb: MiB kept free on the library's disk: uploads are refused (507) when one would leave less,
    so what was acknowledged can always be processed.
    lan_http_uploads: phones on the LAN may send what their own recorder saved over plain HTTP (the join page's
    "record with your phone's recorder", no certificate warning); the show token then crosses the venue's
    network in clear (docs/http.md, "Plain HTTP on the LAN"). False: the LAN takes sounds over HTTPS only.
    """

    host: str = "0.0.0.0"
    port: int = 8765
    token: str = ""
    max_upload_mb: float = 20.0
    max_recording_s: float = 30.0
    rate_limit: int = 10
    rate_limit_per_address: int = 120
    rate_window_s: float = 60.0
    max_connections: int = 1000
    idle_timeout_s: float = 15.0
    body_timeout_s: float = 120.0
    public_url: str = ""
    ngrok_token: str = ""
    ngrok_domain: str = ""
    tls: bool = True
    disk_reserve_mb: float = 256.0
    lan_http_uploads: bool = True


class Mode(StrEnum):
    """How a sample reaches the stage: ``auto`` (at once, as in the paper) or ``preview`` (when the performer
    accepts it)."""

    AUTO = "auto"
    PREVIEW = "preview"


class Unsure(StrEnum):
    """What auto mode does with an unsure sample: ``send`` it like any other, or ``hold`` it for the performer."""

    SEND = "send"
    HOLD = "hold"


@dataclass(frozen=True)
class ShowConfig:
    """The show's first-run state (a running show keeps its own, see :mod:`exsampling.show_state`).

    mode: "auto" (straight to the stage, as in the paper) or "preview". prompt: what the phones ask for.
    open: whether uploads are taken. unsure: in auto mode, "send" an unsure sample to the stage like any
    other, or "hold" it for the performer to accept (as in preview mode).
    """

    mode: Mode = Mode.AUTO
    unsure: Unsure = Unsure.SEND
    prompt: str = ""
    open: bool = True


@dataclass(frozen=True)
class Config:
    """The whole configuration. ``source`` is the TOML file it came from (None: built-in defaults)."""

    audio: AudioConfig = field(default_factory=AudioConfig)
    features: FeaturesConfig = field(default_factory=FeaturesConfig)
    classifier: ClassifierConfig = field(default_factory=ClassifierConfig)
    pitch: PitchConfig = field(default_factory=PitchConfig)
    osc: OscConfig = field(default_factory=OscConfig)
    library: LibraryConfig = field(default_factory=LibraryConfig)
    server: ServerConfig = field(default_factory=ServerConfig)
    show: ShowConfig = field(default_factory=ShowConfig)
    mapping: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_MAPPING))
    melodic: dict[str, bool] = field(default_factory=lambda: dict(DEFAULT_MELODIC))
    source: Path | None = None

    def resolve(self, path: str) -> Path:
        """A path from the config: relative ones are relative to the config file's folder (or the cwd)."""
        p = Path(path).expanduser()
        if p.is_absolute():
            return p
        base = self.source.parent if self.source is not None else Path.cwd()
        return (base / p).resolve()

    def with_changes(self, **sections: dict[str, Any]) -> Config:
        """A copy with some fields of some sections changed, e.g. ``with_changes(osc={"port": 9000})``."""
        updates: dict[str, Any] = {}
        for name, values in sections.items():
            current = getattr(self, name)
            is_section = is_dataclass(current) and not isinstance(current, type)
            updates[name] = replace(current, **values) if is_section else values
        cfg = replace(self, **updates)
        validate(cfg)
        return cfg


def _shown(value: Any) -> str:
    """``value`` as the TOML file writes it: strings in double quotes, ``true``/``false``, lists in brackets."""
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_shown(v) for v in value) + "]"
    if isinstance(value, str | bool | int | float):
        plain = str(value) if isinstance(value, str) else value  # a StrEnum member is written as its value
        return tomli_w.dumps({"v": plain}).removeprefix("v = ").rstrip("\n")
    return repr(value)


def _key(key: str) -> str:
    """A key of the file, quoted as TOML quotes it when it is not a bare key (``mapping."Bass drum"``)."""
    return tomli_w.dumps({key: 0}).removesuffix(" = 0\n")


_TYPE_WORDS = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}


_SECTION_TYPES = {
    "audio": AudioConfig, "features": FeaturesConfig, "classifier": ClassifierConfig, "pitch": PitchConfig,
    "osc": OscConfig, "library": LibraryConfig, "server": ServerConfig, "show": ShowConfig,
}


def _table(section: str, raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ConfigError(f"{section} = {_shown(raw)}: must be a table ([{section}] and its keys)")
    return raw


def _coerce(section: str, cls: type, raw: Any) -> Any:
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(_table(section, raw)) - set(known))
    if unknown:
        raise ConfigError(f"{section}.{_key(unknown[0])}: unknown key; the keys of [{section}] are {sorted(known)}")
    defaults = cls()
    values = {}
    for key, value in raw.items():
        want = type(getattr(defaults, key))
        where = f"{section}.{key} = {_shown(value)}"
        if issubclass(want, StrEnum) and isinstance(value, str) and value in {m.value for m in want}:
            value = want(value)
        if want is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if want is tuple and isinstance(value, list):  # TOML arrays: lists of strings
            if not all(isinstance(v, str) for v in value):
                raise ConfigError(f"{where}: must be a list of strings")
            value = tuple(value)
        if issubclass(want, StrEnum) and not isinstance(value, want):
            raise ConfigError(f"{where}: must be one of {', '.join(_shown(str(m)) for m in want)}")
        if not isinstance(value, want) or (want is int and isinstance(value, bool)):
            raise ConfigError(f"{where}: must be {_TYPE_WORDS.get(want, want.__name__)}")
        values[key] = value
    return cls(**values)


def validate(cfg: Config) -> None:
    """Raise :class:`ConfigError` naming the first value out of range, quoting it and saying what is allowed."""
    a, f, c, p, o, sv, sh = cfg.audio, cfg.features, cfg.classifier, cfg.pitch, cfg.osc, cfg.server, cfg.show
    nyquist = a.sample_rate / 2
    checks: list[tuple[bool, str, Any, str]] = [  # (holds, key, value, what is allowed)
        (a.sample_rate >= 8000, "audio.sample_rate", a.sample_rate, "must be at least 8000 (Hz)"),
        (0 < a.max_duration_s < math.inf, "audio.max_duration_s", a.max_duration_s, "must be > 0 and finite (s)"),
        (a.trim_top_db > 0, "audio.trim_top_db", a.trim_top_db, "must be > 0 (dB)"),
        (a.silence_floor_dbfs < 0, "audio.silence_floor_dbfs", a.silence_floor_dbfs, "must be < 0 (dBFS)"),
        (0.5 <= a.segment_s < math.inf, "audio.segment_s", a.segment_s, "must be at least 0.5 and finite (s)"),
        (0 < a.min_tail_s <= a.segment_s, "audio.min_tail_s", a.min_tail_s,
         f"must be > 0 and at most audio.segment_s ({_shown(a.segment_s)} s)"),
        (f.n_fft >= 256, "features.n_fft", f.n_fft, "must be at least 256 (samples)"),
        (f.hop_length >= 64, "features.hop_length", f.hop_length, "must be at least 64 (samples)"),
        (f.n_mels >= 32, "features.n_mels", f.n_mels, "must be at least 32 (a MobileNetV2 model needs 32 rows)"),
        (0 <= f.fmin_hz < f.fmax_hz, "features.fmin_hz", f.fmin_hz,
         f"must be >= 0 and below features.fmax_hz ({_shown(f.fmax_hz)} Hz)"),
        (f.fmax_hz <= nyquist, "features.fmax_hz", f.fmax_hz,
         f"must be at most half audio.sample_rate ({_shown(nyquist)} Hz)"),
        (c.top_k >= 1, "classifier.top_k", c.top_k, "must be at least 1"),
        (0 <= c.unsure_below <= 1, "classifier.unsure_below", c.unsure_below, "must be in [0, 1]"),
        (0 < c.memory_max_distance <= 2, "classifier.memory_max_distance", c.memory_max_distance,
         "must be in (0, 2] (a cosine distance)"),
        (c.memory_strength > 0, "classifier.memory_strength", c.memory_strength, "must be > 0"),
        (c.adapt_anchor > 0, "classifier.adapt_anchor", c.adapt_anchor, "must be > 0"),
        (c.adapt_width > 0, "classifier.adapt_width", c.adapt_width, "must be > 0 (a cosine distance)"),
        (0 <= c.own_label_above <= 1, "classifier.own_label_above", c.own_label_above, "must be in [0, 1]"),
        (0 < p.fmin_hz < p.fmax_hz, "pitch.fmin_hz", p.fmin_hz,
         f"must be > 0 and below pitch.fmax_hz ({_shown(p.fmax_hz)} Hz)"),
        (p.fmax_hz < nyquist, "pitch.fmax_hz", p.fmax_hz,
         f"must be below half audio.sample_rate ({_shown(nyquist)} Hz)"),
        (0 < o.port < 65536, "osc.port", o.port, "must be a UDP port, 1-65535"),
        (o.prefix.startswith("/") and not o.prefix.endswith("/"), "osc.prefix", o.prefix,
         "must start with '/' and not end with it, e.g. \"/exsampling\""),
        (0 <= o.listen_port < 65536, "osc.listen_port", o.listen_port, "must be a UDP port, 1-65535, or 0 (any)"),
        (o.listen_port != o.port, "osc.listen_port", o.listen_port,
         f"must differ from osc.port ({o.port}), where the stage listens"),
        (not any(ch.isspace() for ch in o.reply_host), "osc.reply_host", o.reply_host,
         "must be a host name or address (no spaces), or \"\" for the console's own address"),
        (all(h and not any(ch.isspace() for ch in h) for h in o.stage_hosts), "osc.stage_hosts", o.stage_hosts,
         "must be host names or addresses (not empty, no spaces)"),
        (0 <= sv.port < 65536, "server.port", sv.port, "must be a TCP port, 1-65535, or 0 (any)"),
        (sv.max_upload_mb > 0, "server.max_upload_mb", sv.max_upload_mb, "must be > 0 (MiB)"),
        (sv.max_recording_s > 0, "server.max_recording_s", sv.max_recording_s, "must be > 0 (s)"),
        (sv.rate_limit >= 1, "server.rate_limit", sv.rate_limit, "must be at least 1"),
        (sv.rate_limit_per_address >= 1, "server.rate_limit_per_address", sv.rate_limit_per_address,
         "must be at least 1"),
        (sv.max_connections >= 8, "server.max_connections", sv.max_connections, "must be at least 8"),
        (sv.idle_timeout_s > 0, "server.idle_timeout_s", sv.idle_timeout_s, "must be > 0 (s)"),
        (sv.body_timeout_s > 0, "server.body_timeout_s", sv.body_timeout_s, "must be > 0 (s)"),
        (0 <= sv.disk_reserve_mb < math.inf, "server.disk_reserve_mb", sv.disk_reserve_mb,
         "must be >= 0 and finite (MiB)"),
        (sh.mode in set(Mode), "show.mode", sh.mode, f"must be one of {', '.join(_shown(str(m)) for m in Mode)}"),
        (sh.unsure in set(Unsure), "show.unsure", sh.unsure,
         f"must be one of {', '.join(_shown(str(m)) for m in Unsure)}"),
    ]
    for ok, key, value, allowed in checks:
        if not ok:
            raise ConfigError(f"{key} = {_shown(value)}: {allowed}")
    try:
        check_mapping(cfg.mapping, cfg.melodic)
    except MappingError as exc:
        raise ConfigError(str(exc)) from exc


def from_dict(raw: dict[str, Any], source: Path | None = None) -> Config:
    """Build a :class:`Config` from parsed TOML, over the defaults."""
    allowed = set(_SECTION_TYPES) | {"mapping", "instruments"}
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise ConfigError(f"[{_key(unknown[0])}]: unknown section; the sections are {sorted(allowed)}")
    values: dict[str, Any] = {name: _coerce(name, cls, raw[name])
                              for name, cls in _SECTION_TYPES.items() if name in raw}
    mapping = dict(DEFAULT_MAPPING)
    for label, instrument in _table("mapping", raw.get("mapping", {})).items():
        where = f"mapping.{_key(label)} = {_shown(instrument)}"
        if not isinstance(instrument, str):
            raise ConfigError(f"{where}: must be an instrument name (a string)")
        try:
            check_label(label)
            check_instrument_name(instrument)
        except MappingError as exc:
            raise ConfigError(f"{where}: {exc}") from exc
        mapping[label] = instrument
    melodic = dict(DEFAULT_MELODIC)
    for instrument, rule in _table("instruments", raw.get("instruments", {})).items():
        if rule not in ("melodic", "percussive"):
            raise ConfigError(f"instruments.{_key(instrument)} = {_shown(rule)}: must be \"melodic\" or \"percussive\"")
        melodic[instrument] = rule == "melodic"
    for instrument in set(mapping.values()) - set(melodic):  # a new track starts percussive, as in live coding
        melodic[instrument] = False
    cfg = Config(**values, mapping=mapping, melodic=melodic, source=source)
    validate(cfg)
    return cfg


def load(path: str | Path | None = None) -> Config:
    """Load the config at ``path`` over the defaults; ``None`` gives the built-in defaults."""
    if path is None:
        cfg = Config()
        validate(cfg)
        return cfg
    p = Path(path).expanduser().resolve()
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"config file {p} does not exist") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {p} is not valid TOML: {exc}") from exc
    return from_dict(raw, source=p)


def to_dict(cfg: Config) -> dict[str, Any]:
    """The TOML-ready form of ``cfg`` (every section written out, so the file documents itself)."""
    out: dict[str, Any] = {name: asdict(getattr(cfg, name)) for name in _SECTION_TYPES}
    out["mapping"] = dict(sorted(cfg.mapping.items()))
    out["instruments"] = {k: ("melodic" if v else "percussive") for k, v in sorted(cfg.melodic.items())}
    return out


def save(cfg: Config, path: str | Path) -> Path:
    """Write ``cfg`` to ``path`` atomically (a half-written config must never be read back)."""
    return _write(Path(path), tomli_w.dumps(to_dict(cfg)))


def _write(path: Path, text: str) -> Path:
    p = path.expanduser().resolve()
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_suffix(p.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(p)
    return p


def changed_settings(cfg: Config) -> dict[str, Any]:
    """The TOML-ready form of what ``cfg`` sets differently from the defaults (sections and mapping only)."""
    out: dict[str, Any] = {}
    for name, cls in _SECTION_TYPES.items():
        defaults, values = asdict(cls()), asdict(getattr(cfg, name))
        section = {k: v for k, v in values.items() if v != defaults[k]}
        if section:
            out[name] = section
    mapping = {k: v for k, v in sorted(cfg.mapping.items()) if DEFAULT_MAPPING.get(k) != v}
    melodic = {k: ("melodic" if v else "percussive") for k, v in sorted(cfg.melodic.items())
               if DEFAULT_MELODIC.get(k) != v}
    return out | ({"mapping": mapping} if mapping else {}) | ({"instruments": melodic} if melodic else {})


def save_mapping(path: str | Path, mapping: dict[str, str], melodic: dict[str, bool],
                 running: Config | None = None) -> Path:
    """Write a class → instrument ``mapping`` and the tracks' ``melodic`` rules into the config file at ``path``,
    keeping the file as its author wrote it: only the ``[mapping]`` and ``[instruments]`` keys whose value changes
    are added or changed; comments, order and every other setting stay. A new file holds just those keys, and what
    the ``running`` config sets differently from the defaults (never the defaults themselves).

    Raises :class:`ConfigError` when the file on disk is invalid (it is not overwritten) or the result would be.
    """
    p = Path(path).expanduser().resolve()
    if p.exists():
        try:
            doc = tomlkit.parse(p.read_text(encoding="utf-8"))
        except (tomlkit.exceptions.ParseError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config file {p} is not valid TOML: {exc}") from exc
    else:
        doc = tomlkit.document()
        for name, values in changed_settings(running or Config()).items():
            doc[name] = values
    rules = {name: "melodic" if rule else "percussive" for name, rule in melodic.items()}
    for section, values in (("mapping", mapping), ("instruments", rules)):
        current = to_dict(from_dict(doc.unwrap(), source=p))[section]  # what the file gives now, defaults included
        # a track the file does not name plays percussive (from_dict): only a melodic one needs its line
        changed = {k: v for k, v in sorted(values.items()) if current.get(k, "percussive") != v}
        if not changed:
            continue
        if section not in doc:
            doc[section] = tomlkit.table()
        table = doc[section]
        for key, value in changed.items():
            table[key] = value
    from_dict(doc.unwrap(), source=p)  # never write a file that would not load
    return _write(p, tomlkit.dumps(doc))
