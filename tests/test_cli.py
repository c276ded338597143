"""The command line as a performer runs it: real subprocesses, real files, a real OSC peer."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import noise_bursts, tone, write


def exsampling(*args, timeout=180):
    return subprocess.run([sys.executable, "-m", "exsampling.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


@pytest.fixture
def show_toml(tmp_path, tiny_model):
    path = tmp_path / "show.toml"
    path.write_text(f'[classifier]\nmodel = "{tiny_model}"\n[library]\npath = "lib"\n')
    return path


@pytest.mark.slow  # a process that loads TensorFlow
def test_classify_json_and_send(tmp_path, show_toml, osc_peer):
    files = [write(tmp_path / "tone.wav", tone(261.63, 7.0)), write(tmp_path / "hits.wav", noise_bursts(3.0))]
    result = exsampling("classify", *files, "--json", "--send", "--osc-port", osc_peer.port, "--config", show_toml)
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["file"] for r in rows] == [str(files[0])] * 2 + [str(files[1])]
    for key in ("start_s", "duration_s", "label", "confidence", "instrument", "pitch_hz", "midi_note"):
        assert all(key in r for r in rows)
    assert rows[0]["midi_note"] == 60 and abs(rows[0]["pitch_hz"] - 261.63) < 261.63 * 0.03
    assert rows[2]["pitch_hz"] is None and rows[2]["midi_note"] is None
    assert [r["status"] for r in rows] == ["sent"] * 3
    # each sample says what its whole recording was heard as
    assert rows[0]["recording"] == rows[1]["recording"] and rows[0]["recording"]["pieces"] == 2
    assert rows[2]["recording"]["pieces"] == 1 and rows[2]["recording"]["label"] == rows[2]["label"]
    messages = osc_peer.wait_for(3)
    assert [m[1][0] for m in messages] == [r["sample_id"] for r in rows]
    assert (tmp_path / "lib" / "library.sqlite3").exists()


@pytest.mark.slow  # a process that loads TensorFlow
def test_classify_text_lines(tmp_path, show_toml):
    result = exsampling("classify", write(tmp_path / "a.wav", tone(440, 2.0)), "--config", show_toml)
    assert result.returncode == 0 and "A4 440" in result.stdout and "→" in result.stdout


@pytest.mark.slow  # a process that loads TensorFlow
def test_classify_keeps_nothing_unless_asked(tmp_path, tiny_model):
    here, audio = tmp_path / "field", write(tmp_path / "a.wav", tone(440, 2.0))
    here.mkdir()
    toml = tmp_path / "model.toml"
    toml.write_text(f'[classifier]\nmodel = "{tiny_model}"\n')  # [library] path: the default, beside the file
    asked = subprocess.run([sys.executable, "-m", "exsampling.cli", "classify", audio, "--json", "--config", toml],
                           capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL, cwd=here)
    assert asked.returncode == 0, asked.stderr
    [row] = [json.loads(line) for line in asked.stdout.splitlines()]
    assert row["midi_note"] == 69 and row["sample_path"] is None and row["sample_id"] is None
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a.wav", "field", "model.toml"]  # nothing written
    kept = exsampling("classify", audio, "--json", "--library", tmp_path / "kept", "--config", toml)
    [row] = [json.loads(line) for line in kept.stdout.splitlines()]
    assert (tmp_path / "kept" / "library.sqlite3").exists() and Path(row["sample_path"]).is_file()


@pytest.mark.slow  # a process that loads TensorFlow
def test_bad_files_are_refused_without_traceback(tmp_path, show_toml):
    bad = tmp_path / "noise.wav"
    bad.write_bytes(np.random.default_rng(0).bytes(10_000))
    silent = write(tmp_path / "silent.wav", np.zeros(22050, dtype=np.float32))
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    good = write(tmp_path / "good.wav", tone(440, 1.0))
    result = exsampling("classify", bad, silent, empty, tmp_path / "missing.wav", good, "--config", show_toml)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    for name, reason in [("noise.wav", "not audio"), ("silent.wav", "nothing audible"), ("empty.wav", "empty"),
                         ("missing.wav", "cannot read")]:
        assert any(name in line and reason in line for line in result.stderr.splitlines()), result.stderr
    assert "good.wav" in result.stdout  # one bad file does not stop the others


def test_missing_model_and_bad_config(tmp_path):
    toml = tmp_path / "c.toml"
    toml.write_text(f'[classifier]\nmodel = "{tmp_path / "none.keras"}"\n')
    result = exsampling("classify", write(tmp_path / "a.wav", tone(440, 1.0)), "--config", toml)
    assert result.returncode == 3 and "exsampling train" in result.stderr and "Traceback" not in result.stderr
    toml.write_text("[osc]\nport = -1\n")
    result = exsampling("classify", tmp_path / "a.wav", "--config", toml)
    assert result.returncode == 2 and "osc.port" in result.stderr


def test_note_command_reaches_the_peer(osc_peer):
    result = exsampling("note", "Piano", "64", "--hold-s", "0.05", "--osc-port", osc_peer.port)
    assert result.returncode == 0, result.stderr
    assert osc_peer.wait_for(2) == [("/exsampling/note/Piano", [64, 100]), ("/exsampling/note/Piano", [64, 0])]


def test_config_write_round_trips(tmp_path):
    first, second = tmp_path / "a.toml", tmp_path / "b.toml"
    assert exsampling("config", "--write", first).returncode == 0
    assert exsampling("config", "--config", first, "--write", second).returncode == 0
    assert first.read_text() == second.read_text() and 'Bark = "Bass"' in first.read_text()


def test_a_taken_port_is_one_plain_line(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "exsampling.cli", "console", "--no-browser", "--upload-port",
                                 str(port)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (f"exsampling: port {port} for the upload server is in use (another console or "
                                     "'exsampling serve' still running?); stop it or choose another port")
