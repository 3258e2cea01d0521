"""Audio intake, the minimum-speech check and encryption at rest (no speaker model needed)."""

from __future__ import annotations

import base64
import io
import os
import wave
from pathlib import Path

import numpy as np
import pytest

from anxin_identity.settings import IdentitySettings
from anxin_identity.voice.audio import SAMPLE_RATE, decode_wav, encode_wav
from anxin_identity.voice.crypto import KEY_FILE, EmbeddingCipher, load_cipher
from anxin_identity.voice.speech import check_speech
from anxin_shared.errors import DependencyUnavailable, PayloadTooLarge, ValidationFailed
from anxin_shared.settings import ConfigurationError
from tests.voice_samples import SENTENCES, VOICE_A, VOICE_B, silence, speak, white_noise

LIMITS = {"max_bytes": 512 * 1024, "min_seconds": 1.0, "max_seconds": 20.0}


def decode(data: bytes) -> np.ndarray:
    return decode_wav(data, name="audio", **LIMITS).samples


def wav(samples: np.ndarray, rate: int, width: int = 2, channels: int = 1) -> bytes:
    scale = {1: 127, 2: 32767, 4: 2**31 - 1}[width]
    dtype = {1: np.int8, 2: "<i2", 4: "<i4"}[width]
    frames = (np.repeat(samples[:, None], channels, axis=1) * scale).astype(dtype)
    if width == 1:
        frames = (frames.astype(np.int16) + 128).astype(np.uint8)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(channels)
        writer.setsampwidth(width)
        writer.setframerate(rate)
        writer.writeframes(frames.tobytes())
    return buffer.getvalue()


def tone(seconds: float, rate: int, hz: float = 220.0) -> np.ndarray:
    return (0.5 * np.sin(2 * np.pi * hz * np.arange(int(seconds * rate)) / rate)).astype(np.float32)


@pytest.mark.parametrize(
    ("rate", "width", "channels"), [(8000, 2, 1), (44100, 2, 2), (16000, 4, 1), (22050, 1, 1)]
)
def test_wav_encodings_decode_to_16k_mono(rate: int, width: int, channels: int) -> None:
    samples = decode(wav(tone(2.0, rate), rate, width, channels))
    assert abs(len(samples) - 2 * SAMPLE_RATE) <= 2
    assert samples.dtype == np.float32 and 0.45 < float(np.abs(samples).max()) <= 0.51
    # The 220 Hz tone is still 220 Hz after resampling.
    spectrum = np.abs(np.fft.rfft(samples))
    assert abs(np.argmax(spectrum) * SAMPLE_RATE / len(samples) - 220) < 2


@pytest.mark.parametrize(
    ("data", "error", "phrase"),
    [
        (b"", ValidationFailed, "empty"),
        (b"OggS" + bytes(2000), ValidationFailed, "not a WAV"),
        (b"RIFF\x00\x00\x00\x00WAVEfmt " + bytes(8), ValidationFailed, "unreadable"),
        (encode_wav(np.zeros(4000, np.float32)), ValidationFailed, "too short"),
        (encode_wav(np.zeros(21 * 8000, np.float32), 8000), ValidationFailed, "too long"),
        (bytes(512 * 1024 + 1), PayloadTooLarge, "at most"),
    ],
)
def test_bad_uploads_are_refused_with_a_reason(data: bytes, error: type, phrase: str) -> None:
    with pytest.raises(error, match=phrase):
        decode(data)


def test_speech_passes_the_check_and_silence_noise_and_hum_do_not() -> None:
    for voice in (VOICE_A, VOICE_B):
        check = check_speech(decode(speak(voice, SENTENCES[0])), 1.0)
        assert check.sufficient, check
        assert check.speech_seconds > 2.0
    assert not check_speech(decode(silence()), 1.0).sufficient
    for level in (0.02, 0.3, 0.9):
        noisy = check_speech(decode(white_noise(level=level)), 1.0)
        assert not noisy.sufficient and noisy.speech_seconds < 0.5, (level, noisy)
    hum = check_speech(decode(encode_wav(tone(3.0, SAMPLE_RATE))), 1.0)
    assert not hum.sufficient
    # A short "yes" is speech, but not enough of it to tell a voice by.
    brief = check_speech(decode(speak(VOICE_A, "Yes, that is right.")), 3.0)
    assert not brief.sufficient and "at least 3 s" in brief.reason


def test_embeddings_are_sealed_to_their_row_and_key() -> None:
    cipher = EmbeddingCipher(os.urandom(32))
    vector = np.random.default_rng(1).standard_normal(256).astype(np.float32)
    sealed = cipher.seal(vector, "voice_enrollment:vp_1:C1")
    assert vector.tobytes() not in sealed and len(sealed) == 12 + 1024 + 16
    assert cipher.seal(vector, "voice_enrollment:vp_1:C1") != sealed  # fresh nonce each time
    assert np.array_equal(cipher.open(sealed, "voice_enrollment:vp_1:C1"), vector)
    with pytest.raises(DependencyUnavailable):
        cipher.open(sealed, "voice_enrollment:vp_1:C2")  # moved to another customer's row
    with pytest.raises(DependencyUnavailable):
        EmbeddingCipher(os.urandom(32)).open(sealed, "voice_enrollment:vp_1:C1")
    tampered = sealed[:20] + bytes([sealed[20] ^ 1]) + sealed[21:]
    with pytest.raises(DependencyUnavailable):
        cipher.open(tampered, "voice_enrollment:vp_1:C1")


def test_the_key_is_generated_in_dev_and_required_elsewhere(tmp_path: Path) -> None:
    dev = load_cipher(None, tmp_path, is_dev=True)
    key_file = tmp_path / KEY_FILE
    assert key_file.exists() and (key_file.stat().st_mode & 0o777) == 0o600
    assert load_cipher(None, tmp_path, is_dev=True).key_id == dev.key_id  # reused, not replaced
    with pytest.raises(ConfigurationError):
        load_cipher(None, tmp_path / "empty", is_dev=False)
    configured = base64.b64encode(os.urandom(32)).decode()
    assert load_cipher(configured, tmp_path / "empty", is_dev=False).key_id != dev.key_id
    with pytest.raises(ConfigurationError):
        load_cipher(base64.b64encode(b"short").decode(), tmp_path, is_dev=False)
    with pytest.raises(ConfigurationError, match="VOICEPRINT_KEY"):
        IdentitySettings(
            env="prod",
            keys_dir=tmp_path / "prod-keys",
            database_url="postgresql+psycopg://db/identity",
            ani_hash_key="a-production-ani-hash-key",
            otp_key="a-production-otp-key-123",
            sms_gateway="http",
            sms_gateway_url="https://sms.example",
        )
