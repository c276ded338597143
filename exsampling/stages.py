"""The chain's stages for one recording, as the configuration and the model set them: trim and cut it into
pieces, pitch each, let the model hear them (features, then one call for the recording), and label them.

The labelling chain for a recording is: the model's probabilities per piece → the performer's corrections have
their say (:meth:`exsampling.corrections.Corrections.adapt`) → the recording's judgement
(:mod:`exsampling.judgement`: pooled over its pieces) → each piece's label, confidence and "unsure"
(:meth:`Stages.label`). The pipeline's workers run :meth:`Stages.cut` and :meth:`Stages.hear` side by side; its
finisher runs :meth:`Stages.label`, one recording at a time.
"""
from __future__ import annotations

import numpy as np

from . import audio, features, judgement, pitch
from .classifier import top_k
from .config import Config
from .corrections import Corrections
from .mapping import Mapper
from .memory import Vote
from .model_loader import ModelLoader
from .records import Judgement, LabelSource, Recording, Sample
from .unsure import track_probability


class Stages:
    """The per-piece stages, configured.

    Parameters
    ----------
    cfg : Config — ``[audio]`` (trim, cut), ``[pitch]`` and ``[classifier]`` (top-k, "unsure", pooling).
    params : FeatureParams — the model's features; its rate is the chain's (``rate``, Hz).
    model : ModelLoader — the model that hears the pieces (none: nothing is heard or labelled).
    mapper : Mapper — its table says which labels share a track, for "unsure".
    """

    def __init__(self, cfg: Config, params: features.FeatureParams, model: ModelLoader, mapper: Mapper) -> None:
        self.cfg, self.params, self.model, self.mapper = cfg, params, model, mapper
        self.rate = params.sample_rate

    def decode(self, source: audio.Source, max_duration_s: float) -> np.ndarray:
        """An upload's audio, mono at the chain's rate; refused over 192 kHz, stereo or ``max_duration_s`` s."""
        return audio.decode(source, self.rate, max_duration_s, audio.MAX_RATE_HZ, audio.MAX_CHANNELS)

    def pieces(self, y: np.ndarray, span: audio.Span | None = None) -> list[audio.Span]:
        """The spans of ``y`` to keep: trimmed, cut into segments (``span``: its audible part, when known)."""
        a = self.cfg.audio
        return audio.pieces(y, self.rate, a.segment_s, a.min_tail_s, a.trim_top_db, a.silence_floor_dbfs,
                            span=span)

    def pitch(self, sample: Sample, piece: np.ndarray) -> None:
        """Set ``sample``'s pitch (Hz, MIDI note, confidence; None when unpitched) from its audio ``piece``."""
        p = self.cfg.pitch
        # a model decoding at a low rate (its sidecar's) cannot hear up to [pitch] fmax_hz: search below its Nyquist
        fmax = min(p.fmax_hz, 0.45 * self.rate)
        found = pitch.detect(piece, self.rate, p.fmin_hz, fmax, p.threshold, p.min_confidence)
        sample.pitch_hz, sample.midi_note, sample.pitch_confidence = found.hz, found.midi_note, found.confidence

    def cut(self, rec: Recording, y: np.ndarray | None, span: audio.Span | None) -> tuple[list[np.ndarray],
                                                                                          list[Sample]]:
        """``rec``'s pieces (its audio ``y``, decoded from its file when None) and their unsaved, pitched samples."""
        sr = self.rate
        y = y if y is not None else self.decode(rec.path, self.cfg.audio.max_duration_s)
        pieces, samples = [], []
        for s in self.pieces(y, span):
            piece = y[s.start:s.end]
            sample = Sample(id=0, recording_id=rec.id, path="", start_s=s.start / sr, duration_s=len(piece) / sr,
                            participant=rec.participant, location=rec.location, recorded_at=rec.received_at)
            self.pitch(sample, piece)
            pieces.append(piece)
            samples.append(sample)
        return pieces, samples

    def hear(self, pieces: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray] | None:
        """The model's probabilities ``(n, n_labels)`` and embeddings ``(n, e)`` for ``pieces``, in one call; None
        without a model."""
        classifier = self.model.classifier
        if classifier is None:
            return None
        return classifier.classify(np.stack([features.image(p, self.params) for p in pieces]))

    def label(self, samples: list[Sample], pieces: list[np.ndarray], heard: tuple[np.ndarray, np.ndarray] | None,
              corrections: Corrections) -> Judgement | None:
        """Label a recording's ``samples`` (in place) from what the model ``heard`` of their ``pieces``, as the
        ``corrections`` adapt it; the recording's judgement (None when nothing was heard: no model)."""
        classifier = self.model.classifier
        if heard is None or classifier is None:
            return None
        probs, embeddings = heard
        labels = classifier.info.labels
        adapted, votes = corrections.adapt(probs, embeddings)
        weights = judgement.piece_weights(np.array([s.duration_s for s in samples]), judgement.loudness(pieces))
        pooled = judgement.pool(adapted, weights)
        final = judgement.piece_probs(adapted, pooled, self.cfg.classifier.own_label_above)
        for i, sample in enumerate(samples):
            self._label(sample, labels, probs[i], final[i], votes[i])
        label, confidence = top_k(pooled, labels, 1)[0]
        return Judgement(label, confidence, len(samples))

    def _label(self, sample: Sample, labels: tuple[str, ...], model_probs: np.ndarray, probs: np.ndarray,
               vote: Vote | None) -> None:
        """A piece's label, confidence and "unsure" from its final ``probs`` (its recording's, unless it is
        confidently something else); ``model_probs``: the model's own, kept as its top-k guesses."""
        sample.top = top_k(model_probs, labels, self.cfg.classifier.top_k)  # the model's own, as the history keeps
        sample.label, sample.confidence = top_k(probs, labels, 1)[0]
        # the stage only cares about the track: the labels that share the answer's instrument pool their mass
        tracks = [self.mapper.table.get(label) for label in labels]
        certainty = float(track_probability(probs, tracks, labels.index(sample.label)))
        sample.unsure = certainty < self.cfg.classifier.unsure_below
        # the performer's corrections of similar sounds chose this label, not the model
        if (vote is not None and vote.recall is not None and vote.recall.label == sample.label
                and sample.label != sample.top[0][0]):
            sample.label_source, sample.recalled_from = LabelSource.MEMORY, vote.recall.sample_id

    def warm_up(self) -> None:
        """Run every stage once on a second of synthetic sound, storing nothing.

        The first decode, resample, pitch and feature calls load code lazily (≈ 1 s); a show's
        first participant should not pay for it.
        """
        sr = self.rate
        t = np.arange(sr) / sr
        data = audio.wav_bytes(0.5 * np.sin(2 * np.pi * 440 * t), 44100 if sr != 44100 else 22050)
        y = audio.decode(data, sr, self.cfg.audio.max_duration_s)
        self.pieces(y)
        self.pitch(Sample(id=0, recording_id=0, path="", start_s=0, duration_s=1), y)
        image = features.image(y, self.params)
        if self.model.classifier is not None:
            self.model.classifier.classify(image[None])
