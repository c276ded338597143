"""Nothing acknowledged is ever lost: the real ``exsampling serve`` killed (``kill -9``) or stopped (SIGTERM) in
the middle of 30 real uploads, then started again; every acknowledged recording ends processed, a phone's retry
after the restart answers the first id, and no file is left without its row."""
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest
from conftest import tone
from serving import Serve, crowd_upload, wav

from exsampling.library import Library

N = 30


def bodies() -> dict[str, bytes]:
    """30 distinct 6-s recordings (two samples each: processing trails the acknowledgements)."""
    return {f"phone-{i:03d}-upload": wav(tone(150.0 + 15 * i, 6.0)) for i in range(N)}


def statuses(library: Path, ids) -> dict[int, str]:
    """Each recording's status, read straight from the database while no server runs."""
    with sqlite3.connect(f"file:{library / 'library.sqlite3'}?mode=ro", uri=True) as db:
        return dict(db.execute(f"SELECT id, status FROM recordings WHERE id IN ({','.join('?' * len(ids))})",
                               list(ids)))


def assert_no_file_without_a_row(library: Path) -> None:
    lib = Library(library)
    kept = {r.path for r in lib.recordings()} | {r.photo_path for r in lib.recordings() if r.photo_path}
    on_disk = {str(p) for sub in ("recordings", "photos") for p in (library / sub).iterdir()}
    assert on_disk <= kept, f"files without a row: {sorted(on_disk - kept)}"


def interrupted_crowd(serve: Serve, sig: int, after_acks: int) -> dict[str, int]:
    """Post 30 uploads at once and send ``sig`` to the server as the ``after_acks``-th answer arrives."""
    sent = threading.Event()

    def on_ack(count: int) -> None:
        if count >= after_acks and not sent.is_set():
            sent.set()
            serve.proc.send_signal(sig)

    return crowd_upload(serve, bodies(), on_ack=on_ack)


def restart_and_check(serve: Serve, acked: dict[str, int]) -> None:
    """Start again: every acknowledged recording is processed, retries answer the first id, nothing is doubled."""
    again = Serve.start(serve.folder, port=serve.port)
    try:
        done = again.wait_final(list(acked.values()))
        assert {body["status"] for body in done.values()} == {"done"}
        # Every phone retries with its upload id (those acknowledged never saw... or lost the answer).
        for upload_id, audio in bodies().items():
            answer = again.upload(audio, upload_id, name=upload_id)
            assert answer.status_code in (200, 201), answer.text
            if upload_id in acked:
                assert (answer.status_code, answer.json()["id"]) == (200, acked[upload_id])
        recordings = Library(serve.library).recordings()
        assert sorted(r.participant for r in recordings) == sorted(bodies()), "a retry stored a sound twice"
        again.wait_final([r.id for r in recordings])
        for r in recordings:
            assert Path(r.path).read_bytes() == bodies()[r.participant]
    finally:
        assert again.stop() == 0
    assert_no_file_without_a_row(serve.library)


@pytest.mark.slow
def test_kill_9_in_the_middle_of_30_uploads_loses_no_acknowledged_recording(tmp_path):
    serve = Serve.start(tmp_path)
    acked = interrupted_crowd(serve, signal.SIGKILL, after_acks=10)
    assert serve.proc.wait(30) == -signal.SIGKILL
    assert len(acked) >= 10
    left = {i: s for i, s in statuses(serve.library, acked.values()).items() if s != "done"}
    assert left, "the kill came too late to test anything: every acknowledged recording was already processed"
    assert set(statuses(serve.library, acked.values())) == set(acked.values())  # each acknowledged one has its row
    restart_and_check(serve, acked)


@pytest.mark.slow
def test_sigterm_in_the_middle_of_30_uploads_stops_cleanly_and_loses_nothing(tmp_path):
    serve = Serve.start(tmp_path)
    acked = interrupted_crowd(serve, signal.SIGTERM, after_acks=15)
    assert serve.proc.wait(60) == 0, serve.log.read_text()[-2000:]
    assert serve.out.read_text().endswith("exsampling: stopped\n")
    rows = statuses(serve.library, acked.values())
    assert set(rows) == set(acked.values())
    # what was not finished is kept for the next start, never half-done
    assert set(rows.values()) <= {"done", "received"}, rows
    restart_and_check(serve, acked)


@pytest.mark.slow
def test_a_kill_between_the_file_and_its_row_leaves_nothing_behind(tmp_path):
    """The process dies after the recording's file is on disk and before its row commits: the next start
    removes the file (another live process's files in flight are left alone)."""
    root = tmp_path / "lib"
    Library(root)
    code = f"""
        import os
        from exsampling.library import Library
        lib = Library({str(root)!r})
        real, calls = lib._transaction, []
        def die_before_the_row(*args, **kwargs):
            calls.append(1)
            if len(calls) == 2:  # the files are written; this transaction would commit their row
                os._exit(9)  # as kill -9 would: no cleanup, no rollback handler
            return real(*args, **kwargs)
        lib._transaction = die_before_the_row
        lib.add_recording(b"RIFF" + bytes(1000), "wav", photo=(b"\\x89PNG" + bytes(100), "png"))
    """
    died = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], check=False, timeout=120)
    assert died.returncode == 9
    leftovers = [p for sub in ("recordings", "photos") for p in (root / sub).iterdir()]
    assert leftovers, "the file should be on disk when the process died"
    removed = Library(root).sweep()
    assert sorted(removed) == sorted(leftovers)
    assert [p for sub in ("recordings", "photos") for p in (root / sub).iterdir()] == []


@pytest.mark.slow
def test_a_retry_after_a_restart_answers_the_first_id(tmp_path):
    serve = Serve.start(tmp_path)
    audio = wav(tone(330.0, 1.0))
    try:
        first = serve.upload(audio, "retry-after-restart")
        assert first.status_code == 201
    finally:
        assert serve.stop() == 0
    again = Serve.start(tmp_path, port=serve.port)
    try:
        retry = again.upload(audio, "retry-after-restart")
        assert (retry.status_code, retry.json()["id"]) == (200, first.json()["id"])
        assert Library(serve.library).counts()["recordings"] == 1
    finally:
        again.stop()


def test_upload_ids_are_unique_in_the_database(tmp_path):
    from exsampling.library import DuplicateUpload

    lib = Library(tmp_path / "lib")
    first = lib.add_recording(b"a", "wav", upload_id="same-id-123")
    assert lib.recording_by_upload("same-id-123").id == first.id
    with pytest.raises(DuplicateUpload) as caught:
        lib.add_recording(b"b", "wav", upload_id="same-id-123")
    assert caught.value.recording.id == first.id
    assert len(list((lib.root / "recordings").iterdir())) == 1  # the second file was not kept
    assert lib.add_recording(b"c", "wav").id != first.id  # no id: no constraint
    assert lib.recording_by_upload("other-id-1234") is None


def test_requeue_finds_every_unfinished_recording_once(tmp_path):
    lib = Library(tmp_path / "lib")
    ids = [lib.add_recording(np.zeros(10).tobytes(), "wav").id for _ in range(4)]
    assert lib.claim(ids[0]) and not lib.claim(ids[0])  # one worker only
    lib.set_recording_status(ids[1], "done")
    # ids[0] is being processed by this (live) process: not to be taken from it
    assert [r.id for r in Library(lib.root).unfinished()] == [ids[2], ids[3]]
    # a worker that died mid-recording: its recording is waiting again
    with sqlite3.connect(lib.db_path) as db:
        db.execute("UPDATE recordings SET worker='999999999@0' WHERE id=?", (ids[0],))
    assert [r.id for r in Library(lib.root).unfinished()] == [ids[0], ids[2], ids[3]]
