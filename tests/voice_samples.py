"""Speech for voiceprint tests and the benchmark, made at test time by Debian's espeak-ng.

espeak-ng's voice variants (`en+m1`, `en+f3`, `en+m7`, ...) differ in pitch,
formants and timbre like different people; the encoder separates them as it
would separate speakers. Nothing is downloaded: the package is installed with
`apt-get install espeak-ng` (`.ci/run` does).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np

from anxin_identity.voice.audio import encode_wav

# Distinct voices for the acceptance cases: A enrolls, B is someone else, C is a fraudster.
VOICE_A, VOICE_B, VOICE_C = "en+m1", "en+f3", "en+m7"
SENTENCES = (
    "Please confirm my account balance and the last three transactions.",
    "I would like to update the mailing address on my insurance policy.",
    "My daughter was born in the spring and we moved to a new city soon after.",
    "Could you tell me when the next premium payment is due this year?",
    "I lost my bank card yesterday and I need to block it right away.",
    "The weather was lovely so we walked along the river after lunch.",
)


def espeak_available() -> bool:
    """Whether espeak-ng is installed."""
    return shutil.which("espeak-ng") is not None


def speak(voice: str, text: str, speed: int = 160) -> bytes:
    """A WAV (espeak-ng's own: 22.05 kHz, 16-bit mono) of `voice` saying `text`."""
    if not espeak_available():
        raise RuntimeError("espeak-ng is missing: apt-get install -y espeak-ng")
    result = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(speed), "--stdout", text],
        capture_output=True,
        check=True,
        timeout=60,
    )
    return result.stdout


def silence(seconds: float = 3.0, rate: int = 16_000) -> bytes:
    """A WAV of digital silence."""
    return encode_wav(np.zeros(int(seconds * rate), dtype=np.float32), rate)


def white_noise(seconds: float = 3.0, rate: int = 16_000, level: float = 0.3) -> bytes:
    """A WAV of loud white noise (which a plain VAD takes for speech)."""
    rng = np.random.default_rng(7)
    return encode_wav((rng.standard_normal(int(seconds * rate)) * level).astype(np.float32), rate)


def save(directory: Path, name: str, data: bytes) -> Path:
    """Write a sample into `directory` (tests keep them in tmp)."""
    path = directory / name
    path.write_bytes(data)
    return path
