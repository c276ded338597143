"""A show takes sounds from its first second: the model loads in the background while the real upload server
stores what phones send; processing waits for it, in arrival order; a model that fails to load loses nothing.

The slow load is the real one held at its door (:class:`GatedLoader`: TensorFlow and the weights load only once
the test opens it), or the real ``exsampling serve`` whose TensorFlow import takes seconds.
"""
import json
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from conftest import tone
from serving import Serve, wav
from test_server import TOKEN, Live, loop, on_loop, servers  # noqa: F401  (loop: the fixture)

from exsampling.classifier import ModelError
from exsampling.console import Console, Role
from exsampling.library import Library
from exsampling.model_loader import ModelLoader, ModelState
from exsampling.osc import OscSender
from exsampling.pipeline import Pipeline, build


class GatedLoader(ModelLoader):
    """The real loader, held before TensorFlow's import and the weights until the test opens ``gate``."""

    def __init__(self, path) -> None:
        super().__init__(path)
        self.gate = threading.Event()

    def _load(self, info):
        assert self.gate.wait(120), "the test never opened the gate"
        return super()._load(info)


def broken_model(folder, tiny_model):
    """A model whose sidecar is fine and whose weights file is not a Keras file: found only when loading."""
    path = folder / "broken.keras"
    path.write_bytes(b"not a keras file")
    path.with_suffix(".json").write_text(tiny_model.with_suffix(".json").read_text())
    return path


@pytest.fixture
def serving(cfg, loop):  # noqa: F811  (the fixture imported above)
    """``serving(model)`` → a running :class:`test_server.Live` whose pipeline has ``model`` (a ModelLoader)."""
    with servers(loop) as launch:
        def _serve(model: ModelLoader) -> Live:
            live = launch(cfg.with_changes(server={"port": 0, "host": "127.0.0.1"}), model, None)
            live.pipeline.start_model()  # as exsampling serve and the console do, once the server listens
            return live

        yield _serve


def test_uploads_are_acknowledged_while_the_model_loads_and_processed_in_order_once_it_is_warm(
        serving, tiny_model, osc_peer):
    model = GatedLoader(tiny_model)
    live = serving(model)
    assert live.pipeline.rate == 22050  # from the sidecar, before TensorFlow
    pitches = [220.0, 330.0, 440.0, 550.0]
    ids = []
    for i, hz in enumerate(pitches):
        answer = live.post(data={"name": f"phone-{i}"}, files={"audio": ("r.wav", wav(tone(hz, 2.0)), "audio/wav")})
        assert answer.status_code == 201, answer.text
        ids.append(answer.json()["id"])
    assert model.state == ModelState.LOADING and model.classifier is None
    assert [live.status(i)["status"] for i in ids] == ["received"] * 4  # stored, waiting for the model
    assert all(Library(live.pipeline.library.root).recording(i).status == "received" for i in ids)
    assert osc_peer.for_tracks(1, timeout=0.3) == []

    model.gate.set()
    done = [live.wait_processed(i) for i in ids]
    assert model.state == ModelState.READY and live.pipeline.classifier is not None
    assert [d["status"] for d in done] == ["done"] * 4
    samples = [d["samples"][0] for d in done]
    assert all(s["label"] for s in samples)  # classified by the model, not processed without it
    assert [s["id"] for s in samples] == sorted(s["id"] for s in samples)  # first in, first processed
    messages = osc_peer.for_tracks(4)
    assert [m[1][0] for m in messages] == [s["id"] for s in samples]  # and first on stage


def test_a_model_that_fails_to_load_keeps_every_recording_for_a_working_one(tmp_path, cfg, tiny_model, serving):
    broken = broken_model(tmp_path, tiny_model)
    with pytest.raises(ModelError, match="cannot load"):  # exsampling classify still says so and stops (exit 3)
        build(cfg.with_changes(classifier={"model": str(broken)}))

    model = ModelLoader(broken)
    live = serving(model)
    answer = live.post()
    assert answer.status_code == 201, answer.text
    assert model.wait(120) and model.state == ModelState.FAILED
    assert "model failed to load: cannot load" in model.line() and "\n" not in model.line()
    ctx = live.server.app.settings["exsampling"]
    deadline = time.monotonic() + 30
    while not ctx.feeder.done() and time.monotonic() < deadline:  # the chain has had its look at the recording
        time.sleep(0.05)
    # kept, not processed without its model
    assert ctx.feeder.done() and live.status(answer.json()["id"])["status"] == "received"
    live.pipeline.close()

    working = Pipeline(cfg, Library.from_config(cfg), ModelLoader(tiny_model), None)
    assert working.wait_until_ready(120)
    [intake] = working.unfinished()
    [sample] = working.process(intake)
    assert sample.label and working.library.recording(intake.recording.id).status == "done"
    working.close()


@pytest.mark.slow  # a second process, and its TensorFlow
def test_serve_acknowledges_before_tensorflow_and_a_kill_9_meanwhile_loses_nothing(tmp_path, tiny_model):
    (tmp_path / "show.toml").write_text(
        f'[library]\npath = "lib"\n[classifier]\nmodel = "{tiny_model}"\n[server]\nhost = "127.0.0.1"\n')
    serve = Serve.start(tmp_path)
    try:
        ids = []
        for i in range(3):
            answer = serve.upload(wav(tone(300.0 + 100 * i, 2.0)), f"early-upload-{i}", name=f"early-{i}")
            assert answer.status_code == 201, answer.text
            ids.append(answer.json()["id"])
        out = serve.out.read_text()
        assert "model tiny loading…" in out
        assert "model tiny ready" not in out, "the model was ready before the uploads: nothing was tested"
    finally:
        serve.stop(signal.SIGKILL)
    kept = Library(serve.library)
    assert [kept.recording(i).status for i in ids] == ["received"] * 3  # on disk and in SQLite, unprocessed

    again = Serve.start(tmp_path, port=serve.port)
    try:
        done = again.wait_final(ids, timeout=180)
        assert [done[i]["status"] for i in ids] == ["done"] * 3 and all(done[i]["samples"][0]["label"] for i in ids)
        deadline = time.monotonic() + 30
        while "model tiny ready" not in again.out.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "model tiny ready" in again.out.read_text()  # the terminal says when sounds start being processed
    finally:
        assert again.stop() == 0


@pytest.mark.slow  # a second process
def test_serve_says_in_one_line_that_the_model_failed_and_keeps_taking_sounds(tmp_path, tiny_model):
    broken = broken_model(tmp_path, tiny_model)
    (tmp_path / "show.toml").write_text(
        f'[library]\npath = "lib"\n[classifier]\nmodel = "{broken}"\n[server]\nhost = "127.0.0.1"\n')
    serve = Serve.start(tmp_path)
    try:
        deadline = time.monotonic() + 120
        while "model failed to load" not in serve.out.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        [line] = [x for x in serve.out.read_text().splitlines() if "model failed to load" in x]
        assert line.startswith("exsampling: model failed to load: cannot load") and "received" in line
        answer = serve.upload(wav(tone(440.0, 2.0)), "after-the-failure")
        assert answer.status_code == 201 and serve.status(answer.json()["id"])["status"] == "received"
    finally:
        assert serve.stop() == 0
    assert Library(serve.library).recordings()[0].status == "received"


def test_the_console_says_ready_at_once_and_how_the_model_is_doing(cfg, tiny_model, tmp_path):
    local = cfg.with_changes(server={"host": "127.0.0.1"})
    model = GatedLoader(tiny_model)
    show = Console(local, Pipeline(local, Library.from_config(local), model, OscSender.from_config(local)),
                   config_file=tmp_path / "exsampling.toml")
    show.ownership.role = Role.OWNER  # as after take_over(), without serving uploads
    show.pipeline.start_model()  # as start() does then
    show.tick()
    status = show.header.status.value
    assert ">ready<" in status and "model tiny loading… (sounds are taken and wait for it)" in status
    assert "exs-model-loading" in status and "odel" not in show.warnings.value  # nothing wrong with it

    model.gate.set()
    assert show.pipeline.wait_until_ready(120)
    show.tick()
    assert "exs-model-ready" in show.header.status.value and "model tiny ready (nothing: an untrained test model)" \
        in show.header.status.value
    show.close()
    show.pipeline.close()

    failed = Console(local, Pipeline(local, Library.from_config(local), ModelLoader(broken_model(tmp_path, tiny_model)),
                                     OscSender.from_config(local)), config_file=tmp_path / "exsampling.toml")
    failed.ownership.role = Role.OWNER
    failed.pipeline.start_model()
    assert failed.pipeline.model.wait(120)
    failed.tick()
    assert ">ready<" in failed.header.status.value and "exs-model-failed" in failed.header.status.value
    assert "model failed to load: cannot load" in failed.warnings.value
    failed.close()
    failed.pipeline.close()


@pytest.mark.slow  # a second process
def test_nothing_on_the_way_to_the_first_acknowledgement_imports_tensorflow(tmp_path, tiny_model):
    """``exsampling serve``'s and the console's start, up to a recording acknowledged over HTTP, with the model's load
    held at its door: TensorFlow and Keras are not imported; once let through, the recording is processed."""
    script = textwrap.dedent(f"""
        import asyncio, json, sys, threading, urllib.request
        from exsampling import cli, model_loader  # what `exsampling serve` imports first
        from exsampling.config import load
        from exsampling.console import Console, environment

        gate = threading.Event()
        real_load = model_loader.ModelLoader._load
        model_loader.ModelLoader._load = lambda self, info: (gate.wait(), real_load(self, info))[1]
        (cfg_path := __import__("pathlib").Path(sys.argv[1])).write_text(
            '[library]\\npath = "lib"\\n[classifier]\\nmodel = "{tiny_model}"\\n[server]\\nhost = "127.0.0.1"\\n'
            '[osc]\\nlisten_port = 0\\n')

        def post(port):
            body = (b'--b\\r\\nContent-Disposition: form-data; name="audio"; filename="a.wav"\\r\\n'
                    b'Content-Type: audio/wav\\r\\n\\r\\n' + open(sys.argv[2], "rb").read() + b'\\r\\n--b--\\r\\n')
            request = urllib.request.Request(f"http://127.0.0.1:{{port}}/api/recordings?token=t", data=body,
                                             headers={{"Content-Type": "multipart/form-data; boundary=b"}})
            with urllib.request.urlopen(request, timeout=60) as answer:
                return answer.status, json.loads(answer.read())["id"]

        async def main():
            show = Console.from_env({{environment.ENV_CONFIG: str(cfg_path), environment.ENV_UPLOAD_PORT: "0",
                                      environment.ENV_TOKEN: "t"}})
            await show.start()
            loop = asyncio.get_running_loop()
            status, rid = await loop.run_in_executor(None, post, show.ownership.server.port)
            heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras"))
            gate.set()
            await loop.run_in_executor(None, show.pipeline.wait_until_ready)
            while show.library.recording(rid).status in ("received", "processing"):
                await asyncio.sleep(0.05)
            print(json.dumps({{"status": status, "heavy": heavy, "state": str(show.pipeline.model.state),
                              "processed": show.library.recording(rid).status,
                              "tensorflow": "tensorflow" in sys.modules}}))
            show.close()
            show.pipeline.close()

        asyncio.run(main())
    """)
    audio = tmp_path / "a.wav"
    audio.write_bytes(wav(tone(440.0, 2.0)))
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "show.toml"), str(audio)],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"status": 201, "heavy": [], "state": "ready", "processed": "done", "tensorflow": True}
