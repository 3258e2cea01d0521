"""Audio intake: a WAV upload checked, decoded to mono and resampled to 16 kHz.

Everything a caller can get wrong about the file itself is answered here, before
anything is stored or embedded: empty, oversized, not a WAV (or a WAV encoding
we do not read), too short or too long. The speaker engines expect 16 kHz mono
float samples in [-1, 1].
"""

from __future__ import annotations

import io
import wave
from dataclasses import dataclass

import numpy as np
import soxr

from anxin_shared.errors import PayloadTooLarge, ValidationFailed

SAMPLE_RATE = 16_000


@dataclass(frozen=True)
class Audio:
    """Mono float32 samples at `SAMPLE_RATE`, and what the upload was."""

    samples: np.ndarray
    source_rate: int

    @property
    def seconds(self) -> float:
        """The duration."""
        return len(self.samples) / SAMPLE_RATE


def _pcm_to_float(frames: bytes, width: int, channels: int) -> np.ndarray:
    if width == 3:
        raw = np.frombuffer(frames, dtype=np.uint8).reshape(-1, 3)
        as_int = (
            raw[:, 0].astype(np.int32)
            | (raw[:, 1].astype(np.int32) << 8)
            | (raw[:, 2].astype(np.int32) << 16)
        )
        as_int = np.where(as_int >= 1 << 23, as_int - (1 << 24), as_int)
        samples = as_int.astype(np.float32) / float(1 << 23)
    elif width == 1:  # 8-bit WAV is unsigned
        samples = (np.frombuffer(frames, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 2:
        samples = np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0
    else:
        samples = np.frombuffer(frames, dtype="<i4").astype(np.float32) / 2147483648.0
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1)
    return samples.astype(np.float32)


def decode_wav(
    data: bytes,
    *,
    name: str,
    max_bytes: int,
    min_seconds: float,
    max_seconds: float,
) -> Audio:
    """Check and decode one WAV upload; 413 or 422 with a clear reason otherwise.

    `name` says which upload a problem is about ("audio", "utterance 2"); the
    content itself never appears in an error.
    """
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"{name}: a recording may hold at most {max_bytes} bytes")
    if not data:
        raise ValidationFailed(f"{name}: the recording is empty")
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValidationFailed(f"{name}: not a WAV file (RIFF/WAVE PCM is expected)")
    try:
        with wave.open(io.BytesIO(data), "rb") as reader:
            channels = reader.getnchannels()
            width = reader.getsampwidth()
            rate = reader.getframerate()
            frames = reader.readframes(reader.getnframes())
    except (wave.Error, EOFError, ValueError) as exc:
        raise ValidationFailed(f"{name}: an unreadable WAV file (16-bit PCM is expected)") from exc
    if width not in (1, 2, 3, 4) or not 1 <= channels <= 2 or not 8_000 <= rate <= 96_000:
        raise ValidationFailed(
            f"{name}: unsupported WAV encoding (PCM, 1-2 channels, 8-96 kHz is expected)"
        )
    usable = len(frames) - len(frames) % (width * channels)
    samples = _pcm_to_float(frames[:usable], width, channels)
    seconds = len(samples) / rate
    if seconds < min_seconds:
        raise ValidationFailed(
            f"{name}: the recording is too short ({seconds:.1f} s; at least {min_seconds:g} s)"
        )
    if seconds > max_seconds:
        raise ValidationFailed(
            f"{name}: the recording is too long ({seconds:.1f} s; at most {max_seconds:g} s)"
        )
    if rate != SAMPLE_RATE:
        samples = soxr.resample(samples, rate, SAMPLE_RATE).astype(np.float32)
    return Audio(samples=np.clip(samples, -1.0, 1.0), source_rate=rate)


def encode_wav(samples: np.ndarray, rate: int = SAMPLE_RATE) -> bytes:
    """16-bit mono PCM WAV bytes of float samples (for tests, the benchmark and fixtures)."""
    pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(pcm.tobytes())
    return buffer.getvalue()
