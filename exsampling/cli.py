"""The ``exsampling`` command: classify files, serve the recorder, run the console, train, play notes.

``classify``, ``note``, ``config``, ``serve`` and ``ca`` are here; ``console``, ``corpus`` and ``train`` are
registered by their packages (one ``register(sub, add_config)`` each). Heavy modules are imported inside the
commands, so ``exsampling --help`` stays quick.

Exit codes: 0 success; 1 some input was refused (the message says why); 2 usage or configuration
error; 3 no usable model. A user error prints one line on stderr, never a traceback.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from . import __version__
from .audio import AudioError
from .classifier import ModelError
from .config import Config, ConfigError, load
from .pitch import note_name
from .records import Sample, SampleStatus, outcome_json

if TYPE_CHECKING:
    from .pipeline import Pipeline
    from .show_state import ShowState

EXIT_OK, EXIT_REFUSED, EXIT_USAGE, EXIT_MODEL = 0, 1, 2, 3


def add_config(parser: argparse.ArgumentParser) -> None:
    """The ``--config PATH`` option every subcommand takes."""
    parser.add_argument("--config", metavar="PATH",
                        help="TOML config file, docs/config.md "
                             "(default: built-in defaults; console: ./exsampling.toml)")


def _config(args: argparse.Namespace) -> Config:
    return load(args.config)


def _sample_json(sample: Sample, file: str, kept: bool) -> dict:
    return {"file": file, "sample_id": sample.id if kept else None, "sample_path": sample.path if kept else None,
            **outcome_json(sample), "top": [[label, round(p, 4)] for label, p in sample.top],
            "recording": sample.judgement.as_json() if sample.judgement is not None else None}


def _sample_line(sample: Sample, file: str) -> str:
    pitch = (f"{note_name(sample.midi_note)} {sample.pitch_hz:.1f} Hz" if sample.midi_note is not None
             else "unpitched")
    unsure = " (unsure)" if sample.unsure else ""
    sent = "  → sent" if sample.status == SampleStatus.SENT else ""
    j = sample.judgement
    whole = f"  (recording: {j.label} {j.confidence:.0%}, {j.pieces} pieces)" if j is not None and j.pieces > 1 else ""
    return (f"{file}  {sample.start_s:6.2f}–{sample.start_s + sample.duration_s:6.2f} s  "
            f"{sample.label} {sample.confidence:.0%}{unsure}  → {sample.instrument}  {pitch}{sent}{whole}")


def _classify(args: argparse.Namespace) -> int:
    from .pipeline import build

    cfg = _config(args)
    if args.osc_host or args.osc_port:
        cfg = cfg.with_changes(osc={k: v for k, v in (("host", args.osc_host), ("port", args.osc_port)) if v})
    kept = bool(args.library or args.send)  # the stage loads sent samples from the library: they must stay
    with contextlib.ExitStack() as stack:
        if args.library:
            cfg = cfg.with_changes(library={"path": args.library})
        elif not kept:  # asked only what the files are: the samples are cut in a folder removed afterwards
            cfg = cfg.with_changes(library={"path": stack.enter_context(
                tempfile.TemporaryDirectory(prefix="exsampling-classify-"))})
        pipeline = build(cfg, send=args.send, require_model=True, actor="cli")
        try:
            return _classify_files(args, pipeline, kept)
        finally:
            pipeline.close()


def _classify_files(args: argparse.Namespace, pipeline: Pipeline, kept: bool) -> int:
    status = EXIT_OK
    for file in args.files:
        try:
            samples = pipeline.process(pipeline.ingest_file(file, source="cli"))
        except AudioError as exc:
            print(f"exsampling: {file}: refused: {exc}", file=sys.stderr)
            status = EXIT_REFUSED
            continue
        if not samples:
            print(f"exsampling: {file}: nothing audible", file=sys.stderr)
            status = EXIT_REFUSED
        for sample in samples:
            print(json.dumps(_sample_json(sample, file, kept)) if args.json else _sample_line(sample, file),
                  flush=True)
    if args.send and pipeline.sender is not None and pipeline.sender.last_error:
        print(f"exsampling: OSC could not be sent: {pipeline.sender.last_error}", file=sys.stderr)
    return status


def _note(args: argparse.Namespace) -> int:
    from .mapping import check_instrument_name
    from .osc import OscSender

    cfg = _config(args)
    check_instrument_name(args.instrument)
    sender = OscSender(args.osc_host or cfg.osc.host, args.osc_port or cfg.osc.port, cfg.osc.prefix)
    sender.note(args.instrument, args.note, args.velocity)
    time.sleep(args.hold_s)
    sender.note(args.instrument, args.note, 0)
    return EXIT_OK if sender.last_error is None else EXIT_REFUSED


def _write_config(args: argparse.Namespace) -> int:
    from .config import save

    path = save(_config(args), args.write)
    print(f"wrote {path}")
    return EXIT_OK


def _serve(args: argparse.Namespace) -> int:
    from .pipeline import build
    from .show_state import ShowState

    cfg = _config(args)
    # the model loads in the background: phones are answered (and their recordings stored) from the first second
    pipeline = build(cfg, actor="serve", wait=False)
    print(f"exsampling: {pipeline.model.line()}", flush=True)
    show = ShowState(cfg, pipeline.library, token=args.token, actor="serve")
    pipeline.show = show  # the chain runs in the show's mode, as its console last left it
    try:
        asyncio.run(_serve_until_stopped(cfg, pipeline, show, args.host, args.port, args.require_tunnel))
    finally:
        pipeline.close()  # the recording in progress is finished; the rest wait, stored, for the next start
    print("exsampling: stopped", flush=True)
    return EXIT_OK


async def _serve_until_stopped(cfg: Config, pipeline: Pipeline, show: ShowState, host: str | None,
                               port: int | None, require_tunnel: bool = False) -> None:
    from .model_loader import ModelLoader, ModelState
    from .server import fingerprint, qr_text, start
    from .stage import Stage

    server = await start(cfg, pipeline, show, host, port, require_tunnel=require_tunnel)
    pipeline.start_model()  # now that phones are answered
    print(server.tunnel_line, flush=True)
    loop = asyncio.get_running_loop()
    if pipeline.model.state == ModelState.LOADING:  # say what became of it, once, when it has

        def settled(model: ModelLoader) -> None:
            with contextlib.suppress(RuntimeError):  # the server stopped first: nobody is listening
                loop.call_soon_threadsafe(lambda: print(f"exsampling: {model.line()}", flush=True))

        pipeline.model.on_settled(settled)
    stage = Stage.from_config(cfg, pipeline.library, pipeline.sender)  # the stage's answers reach the phones
    await stage.start()
    stage.announce(pipeline.mapper.instruments(), force=True)
    for kind, url in server.urls.items():
        print(f"{kind}: {url}", flush=True)
    print(f"stage answers: {f'UDP {stage.port}' if stage.port else stage.error}", flush=True)
    print(f"map: {server.map_url}", flush=True)
    if server.certificate is not None:
        print(f"HTTPS uses the show's own certificate ({server.certificate}, SHA-256 "
              f"{fingerprint(server.certificate)}); phones pass one warning, explained on the join page.")
    print(f"\nParticipants scan this ({server.recorder_url}):\n{qr_text(server.recorder_url)}", flush=True)
    stopped = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopped.set)
    await stopped.wait()
    for sig in (signal.SIGINT, signal.SIGTERM):  # a second Ctrl-C stops at once
        loop.remove_signal_handler(sig)
    print("exsampling: stopping: no new uploads; storing those being received", flush=True)
    server.stop()
    if not await server.drain():
        print("exsampling: some uploads were still arriving; their phones send them again", flush=True)
    stage.stop()
    if server.tunnel is not None:
        server.tunnel.close()  # the end of the show


def _ca(args: argparse.Namespace) -> int:
    from .server.certificate import ensure_authority, fingerprint

    cfg = _config(args)
    authority = ensure_authority(cfg.resolve(cfg.library.path) / "tls")
    print(f"certificate authority: {authority.cert}\n"
          f"  SHA-256 {fingerprint(authority.cert)}\n"
          f"iOS/iPadOS profile:    {authority.profile}\n"
          f"key (keep it on this laptop): {authority.key}\n\n"
          "Install it once on each house device:\n"
          "  iPhone/iPad: open the profile (AirDrop, mail, or the join page's link), Settings → Profile Downloaded →\n"
          "    Install; then Settings → General → About → Certificate Trust Settings → turn on full trust.\n"
          "  Android: Settings → Security → Encryption & credentials → Install a certificate → CA certificate.\n"
          "  Firefox: Settings → Privacy & Security → Certificates → View Certificates → Authorities → Import.\n"
          "The next start signs the LAN certificate with it; those devices then open the recorder with no warning.\n"
          "It can only vouch for private and local addresses, never for a site on the Internet.")
    return EXIT_OK


def _osc_target(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--osc-host", metavar="HOST", help="OSC target host (default: [osc] host, 127.0.0.1)")
    parser.add_argument("--osc-port", metavar="PORT", type=int, help="OSC target UDP port (default: [osc] port, 7400)")


def parser() -> argparse.ArgumentParser:
    """The whole command line."""
    top = argparse.ArgumentParser(prog="exsampling", description=__doc__.split("\n")[0])
    top.add_argument("--version", action="version", version=f"exsampling {__version__}")
    sub = top.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("classify", help="classify sound files: class, confidence, instrument, pitch per 5-s sample")
    p.add_argument("files", nargs="+", metavar="FILE", help="WAV, FLAC, OGG or MP3 files")
    p.add_argument("--json", action="store_true", help="one JSON object per sample instead of a line of text")
    p.add_argument("--send", action="store_true", help="also send each sample over OSC (docs/osc.md); the samples "
                                                       "are kept in the library ([library] path) for the stage")
    p.add_argument("--library", metavar="DIR", help="keep the recordings and samples in this library folder "
                                                    "(default: nothing is kept unless --send)")
    _osc_target(p)
    add_config(p)
    p.set_defaults(func=_classify)

    p = sub.add_parser("note", help="play a note on an instrument track over OSC (no MIDI needed)")
    p.add_argument("instrument", help="track name, e.g. Piano")
    p.add_argument("note", type=int, help="MIDI note 0-127 (60 = C4)")
    p.add_argument("--velocity", type=int, default=100, help="1-127 (default 100)")
    p.add_argument("--hold-s", type=float, default=1.0, help="seconds before the note-off (default 1)")
    _osc_target(p)
    add_config(p)
    p.set_defaults(func=_note)

    p = sub.add_parser("serve", help="serve the participants' recorder; prints its URL and a QR code")
    p.add_argument("--host", help="address to listen on (default: [server] host, 0.0.0.0 = the LAN too)")
    p.add_argument("--port", type=int, help="HTTP port on 127.0.0.1 (default: [server] port, 8765); "
                                            "HTTPS for the LAN is on the next port")
    p.add_argument("--token", help="the show token the recorder link carries (default: kept from the last "
                                   "start, or a new random one)")
    p.add_argument("--require-tunnel", action="store_true",
                   help="stop (exit 2) when the ngrok tunnel cannot open, instead of serving the LAN without it")
    add_config(p)
    p.set_defaults(func=_serve)

    p = sub.add_parser("ca", help="make the show's own certificate authority, to install once on house devices")
    add_config(p)
    p.set_defaults(func=_ca)

    p = sub.add_parser("config", help="write the configuration (defaults, or --config's) to a TOML file")
    p.add_argument("--write", metavar="PATH", required=True, help="where to write it")
    add_config(p)
    p.set_defaults(func=_write_config)

    # subcommands defined beside their modules: one `register(sub, add_config)` line each, below
    from . import corpus, train
    corpus.register(sub, add_config)
    train.register(sub, add_config)
    from . import console
    console.register(sub, add_config)
    from . import archive, replay_cli, report
    archive.register(sub, add_config)
    report.register(sub, add_config)
    replay_cli.register(sub, add_config)
    return top


def one_line(exc: Exception) -> str:
    """An error as a person reads it: an ``OSError``'s message and file, without Python's "[Errno 98]"."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror + (f": {exc.filename}" if exc.filename else "")
    return str(exc)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as exc:
        print(f"exsampling: configuration: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ModelError as exc:
        print(f"exsampling: model: {exc}", file=sys.stderr)
        return EXIT_MODEL
    except (ValueError, OSError) as exc:
        print(f"exsampling: {one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
