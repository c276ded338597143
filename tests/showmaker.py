"""A small show made the way a real one is: uploads over real HTTP to the console's own upload server, the
performer's decisions through the console's API, OSC to a real peer. The archive, report and replay tests keep,
read and play it again.
"""
from __future__ import annotations

import asyncio
import io
import socket
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import requests
import soundfile as sf
from conftest import SR, OscCollector, build_tiny_model, free_port, noise_bursts, tone

TOKEN = "show-token-made"
#: What the audience sends: (name, location or None, seconds after the previous upload, sound).
UPLOADS = [
    ("Aiko", (35.3900, 139.4300, 12.0), 0.0, lambda: tone(440.0, 6.5, harmonics=4)),
    ("Ben", (35.3912, 139.4321, 30.0), 0.4, lambda: noise_bursts(3.0, every_s=0.3, seed=1)),
    ("", None, 0.3, lambda: tone(261.63, 2.5, harmonics=2)),
    ("Aiko", (35.3895, 139.4288, 8.0), 0.6, lambda: tone(880.0, 3.0, harmonics=6)),
    ("Chloé", (35.3921, 139.4310, 15.0), 0.2, lambda: noise_bursts(2.5, every_s=0.17, seed=4)
     + tone(150.0, 2.5, amp=0.2, harmonics=8)),
]
#: Sent after the performer switched to preview mode, then accepted by the performer.
LATE_UPLOAD = ("Ben", (35.3905, 139.4330, 20.0), lambda: tone(330.0, 2.0, harmonics=3))


#: What the show's model learnt to tell apart, from sounds like (never the same as) the audience's.
PROTOTYPES = {
    "Flute": lambda: [tone(hz, 3.0, harmonics=n) for hz, n in ((300.0, 3), (520.0, 5), (700.0, 2), (1000.0, 4))],
    "Snare_drum": lambda: [noise_bursts(3.0, every_s=every, seed=seed) for every, seed in ((0.25, 11), (0.4, 12),
                                                                                          (0.2, 13))],
    "Bark": lambda: [noise_bursts(3.0, every_s=every, seed=seed) + tone(hz, 3.0, amp=0.2, harmonics=8)
                     for every, seed, hz in ((0.3, 21, 120.0), (0.2, 22, 200.0))],
}


@dataclass
class MadeShow:
    """The show's library, config and model, and every OSC message the stage received during it, in order."""

    library: Path
    config: Path
    model: Path
    messages: list[tuple[str, list]]


def wav(y: np.ndarray) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, y, SR, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def png() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (8, 6), (200, 120, 40)).save(buf, format="PNG")
    return buf.getvalue()


def make_show(folder: Path) -> MadeShow:
    """Run the show in ``folder`` (library ``folder/library``, config ``folder/show.toml``) and return it. Its model
    tells tones, noise bursts and barks apart (:data:`PROTOTYPES`; an untrained one hears every sound as the same
    class) and loads in a fraction of a second."""
    from exsampling.config import load
    from exsampling.console import Console
    from exsampling.pipeline import build

    peer = OscCollector()
    config = folder / "show.toml"
    model = build_tiny_model(folder, "tones-noise-barks", prototypes={k: make() for k, make in PROTOTYPES.items()})
    # its embeddings all lie within cosine 0.05 of each other, so the memory's radius is tightened to near copies
    # (as in test_pipeline): a re-label must not colour every later sound; for the same reason the adapted answers
    # (which reach farther, exsampling.adapt) are off
    config.write_text(f'[library]\npath = "library"\n[classifier]\nmodel = "{model.name}"\n'
                      f'memory_max_distance = 0.008\nadapt = false\n[osc]\nport = {peer.port}\n'
                      '[server]\nhost = "127.0.0.1"\n')
    cfg = load(config)
    port = free_port(socket.SOCK_STREAM)
    base = f"http://127.0.0.1:{port}"

    def post(name: str, location, audio: bytes, photo: bytes | None = None) -> int:
        data = {"name": name, "token": TOKEN, "upload_id": uuid.uuid4().hex}  # as the recorder sends it
        if location:
            data |= {"lat": str(location[0]), "lon": str(location[1]), "accuracy": str(location[2])}
        files = {"audio": ("r.wav", audio, "audio/wav")} | ({"photo": ("p.png", photo, "image/png")} if photo else {})
        answer = requests.post(f"{base}/api/recordings", data=data, files=files, timeout=30)
        assert answer.status_code == 201, answer.text
        return answer.json()["id"]

    def processed(ids: list[int]) -> bool:
        return all(requests.get(f"{base}/api/recordings/{i}?token={TOKEN}", timeout=10).json()["status"]
                   in ("done", "silent", "failed") for i in ids)

    async def wait_processed(ids: list[int]) -> None:
        deadline = time.monotonic() + 120
        while not await asyncio.to_thread(processed, ids):
            assert time.monotonic() < deadline, "the show's uploads were not processed in 120 s"
            await asyncio.sleep(0.1)

    async def scenario() -> None:
        pipeline = build(cfg)
        console = Console(cfg, pipeline, config_file=config, upload_port=port, token=TOKEN)
        await console.start()
        assert console.role == "owner"
        console.prompt = "something that rings"
        ids = []
        for i, (name, location, gap_s, sound) in enumerate(UPLOADS):
            await asyncio.sleep(gap_s)
            ids.append(await asyncio.to_thread(post, name, location, wav(sound()), png() if i == 1 else None))
        await wait_processed(ids)
        samples = sorted(console.samples(limit=100), key=lambda s: s.id)
        console.reject(samples[1].id)                 # on stage: withdrawn
        console.relabel(samples[2].id, "Bark")       # on stage: sent again on Bass
        console.mode = "preview"
        console.prompt = "now something soft"
        name, location, sound = LATE_UPLOAD
        late = await asyncio.to_thread(post, name, location, wav(sound()))
        await wait_processed([late])
        [waiting] = pipeline.library.samples(recording_id=late)
        console.accept(waiting.id)
        console.close()
        pipeline.close()

    try:
        asyncio.run(scenario())
        time.sleep(0.3)  # the last datagrams reach the peer
        return MadeShow(folder / "library", config, model, list(peer.messages))
    finally:
        peer.close()
