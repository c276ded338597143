"""``exsampling console``: start Voilà on console.ipynb, wait until its console listens for uploads, say where.

Only light modules are imported here: the ``exsampling`` command imports this for :func:`register` whatever the
subcommand, and Voilà's kernels load the widgets and the model themselves.
"""
from __future__ import annotations

import contextlib
import errno
import os
import signal
import socket
import subprocess
import sys
import time
import webbrowser
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..library import Library
from ..resources import notebook
from ..show_state import OwnerRecord, ShowState, read_owner
from .environment import ENV_CONFIG, ENV_TILES, ENV_TOKEN, ENV_UPLOAD_PORT, config_path, load_config

NOTEBOOK = notebook()
#: Where Voilà's and the kernels' messages go (in the library's folder) unless ``--verbose``.
LOG_NAME = "console.log"


def register(sub: Any, add_config: Callable) -> None:
    """Add ``exsampling console`` to the command line's subparsers."""
    p = sub.add_parser("console", help="the performer's console in the browser; runs the upload server")
    p.add_argument("--port", type=int, default=8866, help="the console's (Voilà's) port on 127.0.0.1 (default 8866)")
    p.add_argument("--upload-port", type=int, help="the upload server's port (default: [server] port, 8765)")
    p.add_argument("--token", help="the show token recorder links carry (default: kept from the last show)")
    p.add_argument("--tiles", help="map tile URL template, e.g. http://127.0.0.1:8000/{z}/{x}/{y}.png "
                                   "(default: $EXSAMPLING_TILES, else no tiles)")
    p.add_argument("--no-browser", action="store_true", help="do not open the console in the browser")
    p.add_argument("--verbose", action="store_true", help="show Voilà's and the kernels' messages here "
                                                          "(default: they go to console.log in the library)")
    add_config(p)
    p.set_defaults(func=_run)


def voila_command(port: int) -> list[str]:
    """How ``exsampling console`` runs Voilà on console.ipynb (see :mod:`exsampling.console.ownership` for why)."""
    return [
        sys.executable, "-m", "voila", NOTEBOOK.name, "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1",
        "--Voila.port_retries=0",
        # a kernel runs the notebook at start, so the upload server listens before any browser opens
        "--preheat_kernel=True",
        # the pool's next kernel loads a model too: let the first page render before it competes for the CPU
        "--VoilaKernelManager.fill_delay=5",
        f"--VoilaConfiguration.multi_kernel_manager_class={__package__}.ShowKernelManager",
        "--VoilaConfiguration.show_tracebacks=True",
    ]


def _check_free(port: int, what: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise OSError(exc.errno, f"port {port} for the {what} is in use (another console or 'exsampling "
                                         "serve' still running?); stop it or choose another port") from None
            raise


def _wait_until_ready(voila: subprocess.Popen, library: Library, upload_port: int, since: float,
                      timeout_s: float = 180.0) -> OwnerRecord | None:
    """The owner's record once a console started after ``since`` listens on ``upload_port``; None if Voilà exited."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if voila.poll() is not None:
            return None
        record = read_owner(library)
        if record is not None and not record.interim and record.started >= since and record.upload_port == upload_port:
            return record
        time.sleep(0.2)
    raise TimeoutError(f"the console did not start within {timeout_s:.0f} s (see Voilà's messages above)")


def _stop_on_sigterm(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)  # unwinds through _run's finally, which stops Voilà and its kernels


def _run(args: Any) -> int:
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    path = config_path(args.config)
    cfg = load_config(path)
    upload_port = cfg.server.port if args.upload_port is None else args.upload_port
    _check_free(args.port, "console")
    _check_free(upload_port, "upload server")
    env = {**os.environ, ENV_CONFIG: str(path), ENV_UPLOAD_PORT: str(upload_port), ENV_TOKEN: args.token or "",
           ENV_TILES: args.tiles or os.environ.get(ENV_TILES, "")}
    started = time.time()
    library = Library(cfg.resolve(cfg.library.path))
    state = ShowState(cfg, library, token=args.token)  # the token, chosen once for the door and the console
    log = None if args.verbose else library.root / LOG_NAME
    with contextlib.ExitStack() as stack:
        stack.callback(_end_tunnel, library)  # last, once Voilà and its kernels have stopped
        # Voilà, Jupyter and TensorFlow in the kernels write start-up notices nobody on stage needs: to the log
        out = None if log is None else stack.enter_context(open(log, "w", encoding="utf-8"))
        voila = subprocess.Popen(voila_command(args.port), cwd=NOTEBOOK.parent, env=env, stdin=subprocess.DEVNULL,
                                 stdout=out, stderr=None if out is None else subprocess.STDOUT)
        stack.callback(_stop, voila)
        from .interim import InterimDoor

        door = InterimDoor(cfg, state, upload_port)  # phones are answered while Voilà and the console start
        stack.callback(door.close)
        if door.open():
            print(f"ExSampling takes sounds after {time.time() - started:.1f} s; the console starts…", flush=True)
        return _serve_console(args, voila, library, upload_port, started, path, log)


def _serve_console(args: Any, voila: subprocess.Popen[bytes], library: Library, upload_port: int, started: float,
                   path: Path, log: Path | None) -> int:
    from ..server import qr_text

    try:
        record = _wait_until_ready(voila, library, upload_port, started)
        if record is None:
            where = f"its messages in {log}:\n{_tail(log)}" if log else "its messages above"
            print(f"exsampling: Voilà stopped before the console was ready; {where}", file=sys.stderr)
            return 1
        console_url = f"http://127.0.0.1:{args.port}/"
        print(f"ExSampling console ready in {time.time() - started:.1f} s", flush=True)
        print(f"console:  {console_url}   (read-only view: {console_url}?view)")
        for kind, url in record.urls.items():
            print(f"recorder ({kind}): {url}")
        print(f"config:   {path}{'' if path.exists() else ' (created on the first mapping edit)'}")
        if log is not None:
            print(f"log:      {log}   (Voilà and the kernels; --verbose shows them here)")
        print(f"\nParticipants scan this ({record.recorder_url}):\n{qr_text(record.recorder_url)}", flush=True)
        if not args.no_browser:
            webbrowser.open(console_url)
        return voila.wait()
    except KeyboardInterrupt:
        return 0


def _stop(voila: subprocess.Popen[bytes]) -> None:
    """Stop Voilà and, through it, its kernels."""
    if voila.poll() is None:
        voila.terminate()
        try:
            voila.wait(timeout=20)
        except subprocess.TimeoutExpired:
            voila.kill()


def _end_tunnel(library: Library) -> None:
    """The show's tunnel outlives its kernels (so a takeover keeps the QR code's URL); the show ends here."""
    from ..server.tunnel import NgrokAgent, ShowTunnel

    ShowTunnel(library, NgrokAgent(library.root / "tunnel")).close()


def _tail(log: Path, lines: int = 40) -> str:
    try:
        return "".join(log.read_text(encoding="utf-8", errors="replace").splitlines(keepends=True)[-lines:])
    except OSError:
        return ""
