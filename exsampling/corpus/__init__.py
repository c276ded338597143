"""A labelled training corpus built from real recordings found in Debian packages (``exsampling corpus``).

Every clip comes from a recording that honestly is what its label says: a SoundFont's flute preset is a
flute, a recorded drum kit's kick is a bass drum, the GS effects kit's dog is a bark. Labels that no
installed source covers stay uncovered and are listed (docs/training.md summarises the survey of Debian's
sound packages this catalogue follows).

Sources are grouped into *families*: sources that share recordings (e.g. TimGM6mb and csound's
sf_GMbank hold mostly the same samples) are one family. Each family is either training or held-out
test material, so the held-out numbers measure a source the model never heard. Test material whose
underlying sample also appears in training material (same SoundFont sample name and length, or same
file bytes) is dropped.

Each original sound (one rendered note, one drum hit, one effect) is turned into several clips with
different pitch, velocity, length, repetition, room, phone colouring and noise, then trimmed and cut
exactly like a live recording (20 dB trim, ≤ 5 s pieces).

Output layout::

    OUT/manifest.csv        file,label,source,family,licence,split,origin
    OUT/coverage.json       clips per label and split, uncovered labels, missing packages
    OUT/clips/<split>/<label>/<origin>-<variant>-<piece>.wav   mono 16-bit PCM at the model's rate

The modules, in the order a build runs: :mod:`.origin` (what every source yields), the catalogue —
:mod:`.soundfont` (SoundFont and MIDI parsing, rendering) and :mod:`.fonts`, :mod:`.sample_files`,
:mod:`.world`, :mod:`.real` (the sources) —, :mod:`.augmentation`, :mod:`.builder` (the corpus on disk) and
:mod:`.cli` (the command). The names below are the ones the rest of the project uses.
"""
from .augmentation import augment, cut_like_live
from .builder import PACKAGES, plan_variants
from .cli import family_filter, register
from .origin import CorpusError, Origin
from .real import real_family, real_origins, real_splits, recordist
from .sample_files import label_for_instrument
from .soundfont import midi_file, render

__all__ = [
    "PACKAGES", "CorpusError", "Origin", "augment", "cut_like_live", "family_filter", "label_for_instrument",
    "midi_file", "plan_variants", "real_family", "real_origins", "real_splits", "recordist", "register", "render",
]
