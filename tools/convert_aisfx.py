"""Convert the aisfx sound-effects embedding (PyPI wheel aisfx==0.1.2, CC BY 4.0) to a Keras backbone.

1. ``pip download --no-deps aisfx==0.1.2`` (unless ``--wheel`` names a downloaded one): the wheel pins
   old librosa/numpy, so it is never installed, only unpacked;
2. reads ``aisfx/models/checkpoint.pth`` without PyTorch (exsampling.torchzip) and builds the Keras
   network (exsampling.aisfx), saved as ``OUT`` (default ~/.cache/exsampling/aisfx/aisfx-backbone.keras),
   with the wheel's LICENSE beside it;
3. checks: the network's embedding of a test signal is finite and non-constant; with
   ``--reference-python PY`` (a throwaway venv holding torch and librosa==0.9.2, never a project
   dependency) it also runs the package's own spectrogram code and the original torch network on the same
   signals and prints the largest differences.

    python tools/convert_aisfx.py [--wheel aisfx-0.1.2-py2.py3-none-any.whl] [--out PATH]
                                  [--reference-python /tmp/torchvenv/bin/python]

``exsampling train --backbone aisfx`` reads the converted file (``--backbone-file``).
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import textwrap
import zipfile
from pathlib import Path

import numpy as np

from exsampling import aisfx, features

DEFAULT_OUT = Path.home() / ".cache" / "exsampling" / "aisfx" / "aisfx-backbone.keras"

#: Runs in the reference interpreter: aisfx's own librosa spectrogram and torch network on the same input.
REFERENCE = textwrap.dedent('''
    import sys, numpy as np, torch
    sys.path.insert(0, sys.argv[1])
    from aisfx.spectrogram import spectrogram_librosa as sl
    from aisfx import preprocessing as pp, inference as inf
    wav, x_path, out = sys.argv[2], sys.argv[3], sys.argv[4]
    spec = pp.spectrogram_normalize(sl.compute_spectrogram(wav, 44100.0, 2048, 1024, 96, 0.0, 22050.0), "original")
    w, ds = torch.load(inf.get_path_modelWeights(), map_location="cpu", weights_only=False)
    net = inf.load_bestModel(w, ds, "cpu")
    with torch.no_grad():
        emb = net.get_embedding(torch.tensor(np.load(x_path)[..., 0])).numpy()
    np.savez(out, spec=spec.T.astype(np.float32), emb=emb)
''')


def fetch_wheel(folder: Path) -> Path:
    """Download the aisfx wheel (no dependencies) into ``folder``."""
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", aisfx.WHEEL, "-d", str(folder)],
                   check=True)
    return next(folder.glob("aisfx-*.whl"))


def test_signals(sr: int, seconds: float, seed: int = 1) -> list[np.ndarray]:
    """A chirp with a tone and noise bursts, and three decaying noises at other levels (5 s each)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(sr * seconds)) / sr
    y = 0.4 * np.sin(2 * np.pi * (200 * t + 400 * t ** 2)) + 0.2 * np.sin(2 * np.pi * 3000 * t) * (t > 2)
    for s in rng.integers(0, len(t) - 8000, 6):
        y[s:s + 8000] += rng.standard_normal(8000) * np.exp(-np.arange(8000) / 800)
    out = [0.7 * y / np.abs(y).max()]
    for _ in range(3):
        out.append(rng.standard_normal(len(t)) * rng.uniform(0.01, 1) * np.exp(-t * rng.uniform(0, 2)))
    return [o.astype(np.float32) for o in out]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--wheel", type=Path, help="an already downloaded aisfx-0.1.2 wheel")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--reference-python", help="a Python with torch and librosa==0.9.2 to compare against")
    args = ap.parse_args()

    import soundfile as sf

    with tempfile.TemporaryDirectory() as tmp:
        tmp_dir = Path(tmp)
        wheel = args.wheel or fetch_wheel(tmp_dir)
        with zipfile.ZipFile(wheel) as z:
            z.extractall(tmp_dir / "wheel")
        root = tmp_dir / "wheel"
        model = aisfx.converted(root / aisfx.CHECKPOINT, features.SFX_MEL.shape)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        model.save(args.out)
        licence = next(root.glob("aisfx-*.dist-info/licenses/LICENSE"), None) or next(
            root.glob("aisfx-*.dist-info/LICENSE"))
        args.out.with_name("LICENSE").write_bytes(licence.read_bytes())
        print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB, {model.count_params():,} parameters)")

        signals = test_signals(features.SFX_MEL.sample_rate, features.SFX_MEL.segment_s)
        x = np.stack([features.image(y, features.SFX_MEL) for y in signals])
        emb = model(x).numpy()
        if not np.isfinite(emb).all() or emb.std() == 0:
            print("the converted network gives a non-finite or constant embedding", file=sys.stderr)
            return 1
        if not args.reference_python:
            print("no --reference-python: skipped the comparison with the original (torch) network")
            return 0
        wav, x_path, ref_path = tmp_dir / "signal.wav", tmp_dir / "x.npy", tmp_dir / "ref.npz"
        sf.write(wav, signals[0], features.SFX_MEL.sample_rate, subtype="FLOAT")
        np.save(x_path, x)
        script = tmp_dir / "reference.py"
        script.write_text(REFERENCE)
        subprocess.run([args.reference_python, str(script), str(root), str(wav), str(x_path), str(ref_path)],
                       check=True)
        ref = np.load(ref_path)
        n = min(len(ref["spec"]), x.shape[1])
        spec_diff = float(np.abs(ref["spec"][:n] - x[0, :n, :, 0]).max())
        emb_diff = float(np.abs(ref["emb"] - emb).max())
        print(f"front end vs aisfx's librosa spectrogram: {n} frames, max |difference| {spec_diff:.2e} "
              f"(values up to {ref['spec'].max():.2f})")
        print(f"embedding vs the torch network on the same input: max |difference| {emb_diff:.2e} "
              f"(values up to {np.abs(ref['emb']).max():.2f})")
        ok = spec_diff < 1e-4 and emb_diff < 1e-3
        print("conversion check:", "passed" if ok else "FAILED")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
