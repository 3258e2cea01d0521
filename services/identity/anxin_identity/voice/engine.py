"""Speaker engines: audio in, a fixed-length voice embedding out.

`SpeakerEngine` is the seam a vendor engine plugs into; `ResemblyzerEngine` is
the default: resemblyzer's GE2E encoder (a 3-layer LSTM, 256-d embeddings)
whose pretrained weights ship inside its wheel, run on the CPU with PyTorch.
Nothing is downloaded at run time. An engine is loaded once per process, on
first use, and its inference is serialized: the model is CPU-bound, and
letting every request thread into it at once only oversubscribes the cores.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any, Protocol

import numpy as np

from anxin_identity.voice.audio import SAMPLE_RATE
from anxin_shared.errors import DependencyUnavailable

logger = logging.getLogger("anxin.identity.voice")


class SpeakerEngine(Protocol):
    """A speaker-embedding model."""

    name: str
    dimensions: int

    def embed(self, samples: np.ndarray) -> np.ndarray:
        """One L2-normalized embedding of 16 kHz mono float32 speech."""
        ...

    def warm_up(self) -> None:
        """Load the model and run it once, so the first caller does not wait for that."""
        ...


def cosine(first: np.ndarray, second: np.ndarray) -> float:
    """Cosine similarity of two embeddings."""
    denominator = float(np.linalg.norm(first) * np.linalg.norm(second))
    return float(np.dot(first, second) / denominator) if denominator else 0.0


def centroid(embeddings: list[np.ndarray]) -> np.ndarray:
    """The L2-normalized mean of several embeddings of one speaker."""
    mean = np.mean(np.stack(embeddings), axis=0)
    return (mean / np.linalg.norm(mean)).astype(np.float32)


class ResemblyzerEngine:
    """resemblyzer's pretrained voice encoder on the CPU."""

    name = "resemblyzer"
    dimensions = 256

    def __init__(self) -> None:
        self._encoder: Any = None
        self._preprocess: Any = None
        self._load_lock = threading.Lock()
        self._run_lock = threading.Lock()
        self._warm = False

    def _load(self) -> None:
        with self._load_lock:
            if self._encoder is not None:
                return
            try:
                import torch
                from resemblyzer import VoiceEncoder, preprocess_wav
            except ImportError as exc:  # the `voice` extra is not installed
                raise DependencyUnavailable("the voice engine is not installed") from exc
            torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
            self._encoder = VoiceEncoder("cpu", verbose=False)
            self._preprocess = preprocess_wav
            logger.info("voice engine resemblyzer loaded")

    def warm_up(self) -> None:
        """Load the weights and run one inference (PyTorch's first call is the slow one)."""
        if self._warm:
            return
        seconds = np.arange(SAMPLE_RATE * 2) / SAMPLE_RATE
        voiced = sum(np.sin(2 * np.pi * 140 * k * seconds) / k for k in range(1, 8))
        syllables = 0.5 + 0.5 * np.sin(2 * np.pi * 4 * seconds)
        self.embed((0.1 * voiced * syllables).astype(np.float32))
        self._warm = True

    def embed(self, samples: np.ndarray) -> np.ndarray:
        """Normalize the volume, trim long pauses, embed (resemblyzer's own pipeline)."""
        self._load()
        with self._run_lock:
            wav = self._preprocess(samples.astype(np.float32), source_sr=None)
            if len(wav) < SAMPLE_RATE // 2:  # trimming left almost nothing: embed as is
                wav = samples.astype(np.float32)
            return np.asarray(self._encoder.embed_utterance(wav), dtype=np.float32)


_engines: dict[str, SpeakerEngine] = {}
_engines_lock = threading.Lock()
ENGINES: dict[str, type] = {"resemblyzer": ResemblyzerEngine}


def get_engine(name: str) -> SpeakerEngine:
    """The process-wide engine of this name, created once."""
    with _engines_lock:
        engine = _engines.get(name)
        if engine is None:
            factory = ENGINES.get(name)
            if factory is None:
                raise DependencyUnavailable(f"unknown voice engine {name}")
            engine = factory()
            _engines[name] = engine
        return engine


async def embed_all(engine: SpeakerEngine, recordings: list[np.ndarray]) -> list[np.ndarray]:
    """Embed recordings in a worker thread, off the event loop."""

    def run() -> list[np.ndarray]:
        return [engine.embed(samples) for samples in recordings]

    return await asyncio.to_thread(run)
