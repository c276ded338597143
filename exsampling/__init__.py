"""ExSampling: sounds recorded by an audience, classified, pitched and mapped to instruments on stage.

The data flow, one module per stage: audio (decode, trim, segment) → features (log-mel image) →
classifier (MobileNetV2) → pitch → mapping → osc, with library (SQLite + WAV files) keeping
everything and pipeline running the chain. server and console sit on top.
"""

__version__ = "0.1.0"
