"""The minimum-speech check that runs before any embedding.

A speaker encoder returns a normal-looking vector for anything, silence and
white noise included, so the decision "is there a voice here at all" cannot be
left to it. A 30 ms frame counts as speech only when all three hold:

- WebRTC's voice-activity detector calls it speech (it rejects silence, quiet
  hiss and most steady hum);
- its spectrum is not flat (loud white or pink noise fools the VAD but has a
  spectral flatness far above any voiced sound);
- it is loud enough to carry anything (above `MIN_LEVEL_DB` dBFS).

On top of that the loudness must move like syllables do: a steady tone or hum
passes the per-frame tests but its level barely varies.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import webrtcvad

from anxin_identity.voice.audio import SAMPLE_RATE

FRAME_SECONDS = 0.03
FRAME = int(SAMPLE_RATE * FRAME_SECONDS)
MAX_FLATNESS = 0.3
MIN_LEVEL_DB = -50.0
MIN_LEVEL_SPREAD_DB = 4.0
VAD_MODE = 2


@dataclass(frozen=True)
class SpeechCheck:
    """How much speech a recording holds, and whether that is enough."""

    speech_seconds: float
    level_spread_db: float
    sufficient: bool
    reason: str


def _frames(samples: np.ndarray) -> np.ndarray:
    count = len(samples) // FRAME
    return samples[: count * FRAME].reshape(count, FRAME)


def _flatness(frames: np.ndarray) -> np.ndarray:
    window = np.hanning(FRAME).astype(np.float32)
    power = np.abs(np.fft.rfft(frames * window, axis=1))[:, 1:] ** 2 + 1e-12
    geometric = np.exp(np.mean(np.log(power), axis=1))
    return np.asarray(geometric / np.mean(power, axis=1))


def check_speech(samples: np.ndarray, min_speech_seconds: float) -> SpeechCheck:
    """Count the speech frames of 16 kHz mono samples; enough of them, moving like speech?"""
    frames = _frames(samples)
    if len(frames) == 0:
        return SpeechCheck(0.0, 0.0, False, "no audio")
    rms = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1))
    level_db = 20.0 * np.log10(np.maximum(rms, 1e-9))
    pcm = (np.clip(frames, -1.0, 1.0) * 32767.0).astype("<i2")
    vad = webrtcvad.Vad(VAD_MODE)
    voiced = np.array([vad.is_speech(frame.tobytes(), SAMPLE_RATE) for frame in pcm])
    speech = voiced & (_flatness(frames) < MAX_FLATNESS) & (level_db > MIN_LEVEL_DB)
    speech_seconds = float(speech.sum() * FRAME_SECONDS)
    audible = level_db[level_db > MIN_LEVEL_DB]
    spread = float(np.std(audible)) if len(audible) > 1 else 0.0
    if speech_seconds < min_speech_seconds:
        reason = f"{speech_seconds:.1f} s of speech; at least {min_speech_seconds:g} s is needed"
        return SpeechCheck(speech_seconds, spread, False, reason)
    if spread < MIN_LEVEL_SPREAD_DB:
        return SpeechCheck(speech_seconds, spread, False, "a steady sound, not speech")
    return SpeechCheck(speech_seconds, spread, True, "enough speech")
