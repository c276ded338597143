"""A full disk, for real: the library lives on a small tmpfs of its own (in a user and mount namespace, so no
privilege is needed), filled with ``dd`` until the kernel says "No space left on device", and then freed.

The real ``exsampling serve`` runs in that namespace; the test talks to it over HTTP as a phone would.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from conftest import tone
from serving import FINAL, TOKEN, free_tcp_port, wav, write_config

pytestmark = pytest.mark.slow

TONE = wav(tone(440.0, 1.0))


def _namespaces_work() -> bool:
    if shutil.which("unshare") is None or shutil.which("nsenter") is None:
        return False
    probe = subprocess.run(["unshare", "-rm", "true"], capture_output=True)
    return probe.returncode == 0


needs_namespaces = pytest.mark.skipif(not _namespaces_work(), reason="unprivileged user namespaces are off here")


class SmallDisk:
    """A tmpfs of ``size_mb`` at ``folder``, seen only by the processes started with :meth:`run`/:meth:`popen`."""

    def __init__(self, folder: Path, size_mb: int) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.holder = subprocess.Popen(
            ["unshare", "-rm", "sh", "-c", f"mount -t tmpfs -o size={size_mb}m tmpfs '{folder}' && echo ok && "
             "exec sleep 3600"], stdout=subprocess.PIPE, text=True)
        assert self.holder.stdout is not None and self.holder.stdout.readline().strip() == "ok"

    def command(self, *args: str) -> list[str]:
        return ["nsenter", "-t", str(self.holder.pid), "-U", "-m", "--preserve-credentials", *args]

    def run(self, script: str) -> str:
        return subprocess.run(self.command("sh", "-c", script), capture_output=True, text=True).stdout

    def fill(self) -> None:
        """Fill the disk up to its last byte (dd stops at "No space left on device")."""
        self.run(f"dd if=/dev/zero of='{self.folder}/filler' bs=64k 2>/dev/null; sync")
        assert int(self.run(f"stat -f -c %a '{self.folder}'")) == 0

    def free(self) -> None:
        self.run(f"rm -f '{self.folder}/filler'")

    def close(self) -> None:
        self.holder.kill()
        self.holder.wait()


@needs_namespaces
def test_a_full_disk_strands_nothing_and_the_show_recovers(tmp_path):
    disk = SmallDisk(tmp_path / "lib", 16)
    config = write_config(tmp_path, disk_reserve_mb=0)  # so the disk really fills, past any reserve
    port = free_tcp_port()
    log = tmp_path / "serve.err"
    with open(log, "wb") as err, open(tmp_path / "serve.out", "wb") as out:
        proc = subprocess.Popen(disk.command(sys.executable, "-m", "exsampling.cli", "serve", "--port", str(port),
                                             "--token", TOKEN, "--config", str(config)),
                                stdout=out, stderr=err, cwd=tmp_path,
                                env=os.environ | {"TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONUNBUFFERED": "1"})
    url = f"http://127.0.0.1:{port}"
    slow = None
    try:
        _wait_listening(url, proc, log)

        def upload(upload_id: str) -> requests.Response:
            return requests.post(f"{url}/api/recordings?token={TOKEN}", data={"upload_id": upload_id},
                                 files={"audio": ("a.wav", TONE, "audio/wav")}, timeout=30)

        def status(recording_id: int) -> dict:
            return requests.get(f"{url}/api/recordings/{recording_id}?token={TOKEN}", timeout=10).json()

        # An upload still arriving holds processing back (up to 2 s, so a crowd is answered first): the disk fills
        # between the acknowledgement of the next one and its processing.
        slow = socket.create_connection(("127.0.0.1", port), timeout=10)
        slow.sendall(f"POST /api/recordings?token={TOKEN} HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; "
                     "boundary=b\r\nContent-Length: 100000\r\n\r\n--b\r\n".encode())
        time.sleep(0.2)
        stored = upload("stored-before-full")
        assert stored.status_code == 201, stored.text
        disk.fill()
        time.sleep(4)  # its processing has met the full disk
        during = requests.get(f"{url}/api/recordings/{stored.json()['id']}?token={TOKEN}", timeout=10)
        if during.status_code == 507:  # even reading the library can need room (SQLite's shared-memory file)
            assert during.json()["error"] == "disk_full"
        else:
            assert during.json()["status"] in ("received", "processing"), during.text
        refused = upload("on-a-full-disk")
        assert refused.status_code == 507 and refused.json()["error"] == "disk_full", refused.text
        assert proc.poll() is None
        disk.free()
        deadline = time.monotonic() + 30
        while status(stored.json()["id"])["status"] not in FINAL and time.monotonic() < deadline:
            time.sleep(0.2)
        assert status(stored.json()["id"])["status"] == "done", status(stored.json()["id"])
        again = upload("on-a-full-disk")
        assert again.status_code == 201, again.text  # the phone's retry, now that there is room
        deadline = time.monotonic() + 30
        while status(again.json()["id"])["status"] not in FINAL and time.monotonic() < deadline:
            time.sleep(0.2)
        assert status(again.json()["id"])["status"] == "done"  # the processing queue is alive
    finally:
        if slow is not None:
            slow.close()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        finally:
            if proc.poll() is None:
                proc.kill()
            disk.close()
    text = log.read_text(errors="replace")
    assert "Task exception was never retrieved" not in text and "Traceback" not in text, text[-4000:]
    assert "waits for disk space" in text


def _file(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _wait_listening(url: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 120
    while True:
        try:
            if requests.get(f"{url}/healthz", timeout=2).ok:
                return
        except requests.ConnectionError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"serve did not start: {log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.1)
