"""CI: install ExSampling with ``pip install .`` (not editable) into a clean virtual environment, then start
``exsampling serve`` and ``exsampling console --no-browser`` from an empty folder elsewhere and check each answers.

This is what a performer's laptop gets from a release: the recorder page, the console notebook and the bundled
model must come from the installed package (exsampling.resources), not from this checkout.

    python tools/check_install.py [--venv DIR]   # DIR is made (or reused) for the check; default: a temp folder

pip's cache is used, so on a machine that ran ``make install`` nothing is downloaded again.
"""
from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.status, response.read().decode("utf-8", "replace")


class Command:
    """A command of the installed package, run from ``cwd``, its output collected as it comes."""

    def __init__(self, args: list[str], cwd: Path) -> None:
        print(f"$ {' '.join(args)}   (in {cwd})", flush=True)
        self.proc = subprocess.Popen(args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, text=True, env={**os.environ, "PYTHONPATH": ""})
        self.lines: list[str] = []
        threading.Thread(target=self._collect, daemon=True).start()

    def _collect(self) -> None:
        for line in self.proc.stdout or []:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, pattern: str, timeout_s: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = re.search(pattern, self.output)
            if found:
                return found
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        raise SystemExit(f"no {pattern!r} within {timeout_s:.0f} s; output:\n{self.output[-4000:]}")

    def stop(self) -> int:
        """SIGTERM, as a service manager or Ctrl-C would; the exit status."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise SystemExit(f"did not stop within 60 s of SIGTERM:\n{self.output[-4000:]}") from None


def install(venv: Path) -> Path:
    if not (venv / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check", "--quiet"]
    print(f"$ pip install -c requirements.txt .   (into {venv})", flush=True)
    subprocess.run([*pip, "install", "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "install", "-c", str(ROOT / "requirements.txt"), str(ROOT)], check=True, cwd=venv)
    return venv / "bin" / "exsampling"


def check_serve(exsampling: Path, folder: Path) -> None:
    port, token = free_port(), "check-install"
    serve = Command([str(exsampling), "serve", "--host", "127.0.0.1", "--port", str(port), "--token", token],
                    folder)
    try:
        serve.wait_for(r"map: http://", 180)
        assert get(f"http://127.0.0.1:{port}/healthz") == (200, "ok\n")
        status, page = get(f"http://127.0.0.1:{port}/?token={token}")
        assert status == 200 and "recorder/recorder.js" in page, page[:500]
        assert get(f"http://127.0.0.1:{port}/recorder/recorder.js")[0] == 200
        assert "no model found" not in serve.output, "the bundled model was not found:\n" + serve.output
    finally:
        code = serve.stop()
    assert code == 0 and serve.output.rstrip().endswith("exsampling: stopped"), serve.output[-2000:]
    print("exsampling serve: recorder page, health and bundled model OK", flush=True)


def check_console(exsampling: Path, folder: Path) -> None:
    port, upload_port = free_port(), free_port()
    console = Command([str(exsampling), "console", "--no-browser", "--port", str(port), "--upload-port",
                       str(upload_port)], folder)
    try:
        console.wait_for(r"ExSampling console ready in", 300)
        status, page = get(f"http://127.0.0.1:{port}/")
        assert status == 200 and "voila" in page.lower(), page[:500]
        assert get(f"http://127.0.0.1:{upload_port}/healthz") == (200, "ok\n")
    finally:
        code = console.stop()
    assert code in (0, 128 + signal.SIGTERM), f"exit {code}:\n{console.output[-2000:]}"
    print("exsampling console: Voilà page and upload server OK", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--venv", type=Path, help="the virtual environment to install into (default: a temp one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="exsampling-install-") as tmp:
        exsampling = install((args.venv or Path(tmp) / "venv").resolve())
        folder = Path(tmp) / "show"  # nowhere near the checkout: nothing may be found through the cwd
        folder.mkdir()
        check_serve(exsampling, folder)
        check_console(exsampling, folder)
    print("pip install . works: the installed package serves and runs the console from another folder")
    return 0


if __name__ == "__main__":
    sys.exit(main())
