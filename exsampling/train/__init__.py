"""Train the sound classifier (``exsampling train``) on the 41 FSDKaggle2018 labels: a head on the aisfx
sound-effects CNN (Ma & Lerch's pretrained embedding, the bundled model's backbone: ``--backbone aisfx``, on
44.1 kHz sfx-mel maps), or the paper's MobileNetV2 on log-mel images, trained from scratch (the default).

Data layouts (auto-detected from the DATA argument):

* a corpus manifest CSV (``exsampling corpus``): columns file,label,source,licence,split[,origin,family];
  rows with split "test" are the held-out set (other sources than training).
* the FSDKaggle2018 layout: a folder with ``train.csv`` (fname,label,manually_verified) and the audio in
  ``audio_train/`` (or ``FSDKaggle2018.audio_train/``); a test CSV with labels
  (``test_post_competition_scoring_clips.csv`` or ``test.csv`` with fname,label) and ``audio_test/``
  becomes the held-out set.
* a folder per class: ``DATA/<label>/*.wav`` (any format libsndfile reads), e.g. a performer's own recordings.

``--from-library LIBRARY_DIR`` fine-tunes the model in use on the console's re-labelled samples
(optionally together with DATA). Every clip is trimmed and cut like a live recording, then turned into
the same feature image the live console uses (exsampling.features.image); images are cached per file.

Outputs beside ``--out NAME.keras``: ``NAME.json`` (sidecar), ``NAME.metrics.json``,
``NAME.confusion.png`` and ``NAME.clips.csv`` (every clip used, with its source and licence).

The modules, in the order a run uses them: :mod:`.layouts` (the readers), :mod:`.images` (feature images and
their cache), :mod:`.splits` (validation), :mod:`.models` (the networks), :mod:`.fitting`, :mod:`.evaluation`,
:mod:`.trainer` (one run end to end) and :mod:`.cli` (the command). Keras is imported only inside the functions
that need it, so importing this package stays light. The names below are the ones the rest of the project uses.
"""
import os

from .cli import register
from .evaluation import confusion_png, evaluate, per_family, wilson_interval
from .fitting import class_weights
from .images import Dataset, TrimRule, cache_key, clip_images, extract, load_images
from .layouts import Clip, discover, read_library, read_manifest
from .models import build_head, compose, embed
from .splits import validation_groups
from .trainer import Options, save_model, train, write_clips_csv

# read by keras when a function here first imports it
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__all__ = [
    "Clip", "Dataset", "Options", "TrimRule", "build_head", "cache_key", "class_weights", "clip_images", "compose",
    "confusion_png", "discover", "embed", "evaluate", "extract", "load_images", "per_family", "read_library",
    "read_manifest", "register", "save_model", "train", "validation_groups", "wilson_interval", "write_clips_csv",
]
