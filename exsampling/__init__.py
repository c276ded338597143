"""ExSampling: sounds recorded by an audience, classified, pitched and mapped to instruments on stage.

The data flow, one module per stage: audio (decode, trim, segment) → features (log-mel image) →
classifier (a Keras CNN beside its sidecar: the bundled one is the aisfx sound-effects embedding with a head
trained here; ``exsampling train`` makes aisfx-head or MobileNetV2 models) → pitch → mapping → osc, with
library (SQLite + WAV files) keeping everything, pipeline running the chain and stage hearing the stage's answers.
server and console sit on top, cli above all; no module imports from a floor above its own (the import-linter
contract in pyproject.toml, checked by ``make lint``).
"""

__version__ = "0.1.0"
