"""Voiceprint benchmark: score distributions and equal error rate on espeak-ng voices.

    .venv/bin/python benchmarks/voice.py [--voices en+m1,en+f3,...] [--telephone]

For each voice, two sentences are enrolled (as the service does: the mean of
their embeddings) and every other sentence of every voice is scored against
each enrollment with the production pipeline (WAV decode, 16 kHz resample,
speech check, resemblyzer embedding, cosine). Same-voice scores are "match"
trials, other-voice scores "mismatch" trials. Prints both distributions, the
equal error rate (where false accepts equal false rejects) and the error rates
at the configured threshold. `--telephone` first band-limits every recording
to 8 kHz narrow-band audio, as a phone line would, to show how much worse the
engine gets there. Synthetic voices are far more regular than people: read the
numbers as a check that the pipeline separates voices, not as field accuracy.
No timing is asserted; the elapsed time is printed for information only.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from anxin_identity.settings import IdentitySettings
from anxin_identity.voice.audio import SAMPLE_RATE, decode_wav, encode_wav
from anxin_identity.voice.engine import centroid, cosine, get_engine
from anxin_identity.voice.speech import check_speech
from tests.voice_samples import SENTENCES, speak

DEFAULT_VOICES = "en+m1,en+f3,en+m7,en+f1,en+m3,en-us+f2,en+klatt,en+f4,en+m5"
ENROLL = 2


def telephone(wav: bytes) -> bytes:
    """The recording as a narrow-band (8 kHz) phone line carries it."""
    import soxr

    samples = decode_wav(wav, name="t", max_bytes=1 << 24, min_seconds=0, max_seconds=60).samples
    narrow = soxr.resample(samples, SAMPLE_RATE, 8000)
    return encode_wav(np.asarray(narrow, dtype=np.float32), 8000)


def equal_error_rate(genuine: np.ndarray, impostor: np.ndarray) -> tuple[float, float]:
    """(EER, threshold at the EER) by sweeping every observed score."""
    best = (1.0, 0.0)
    gap = 2.0
    for threshold in np.unique(np.concatenate([genuine, impostor])):
        false_reject = float(np.mean(genuine < threshold))
        false_accept = float(np.mean(impostor >= threshold))
        if abs(false_reject - false_accept) < gap:
            gap = abs(false_reject - false_accept)
            best = ((false_reject + false_accept) / 2, float(threshold))
    return best


def describe(name: str, scores: np.ndarray) -> str:
    quartiles = np.percentile(scores, [0, 25, 50, 75, 100])
    return (
        f"{name:9s} n={len(scores):4d}  mean={scores.mean():.3f}  sd={scores.std():.3f}  "
        f"min/q1/median/q3/max = {' / '.join(f'{q:.3f}' for q in quartiles)}"
    )


def histogram(genuine: np.ndarray, impostor: np.ndarray, bins: int = 20) -> list[str]:
    edges = np.linspace(min(genuine.min(), impostor.min()), 1.0, bins + 1)
    g, _ = np.histogram(genuine, edges)
    i, _ = np.histogram(impostor, edges)
    scale = 40 / max(1, g.max(), i.max())
    lines = ["score      match                                     mismatch"]
    for index in range(bins):
        lines.append(
            f"{edges[index]:.3f}  {'#' * round(g[index] * scale):40s}  "
            f"{'x' * round(i[index] * scale)}"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--voices", default=DEFAULT_VOICES)
    parser.add_argument("--telephone", action="store_true", help="8 kHz narrow-band audio")
    args = parser.parse_args()
    settings = IdentitySettings()
    voices = args.voices.split(",")
    engine = get_engine(settings.voice_engine)
    started = time.perf_counter()
    embeddings: dict[tuple[str, int], np.ndarray] = {}
    refused = 0
    for voice in voices:
        for index, sentence in enumerate(SENTENCES):
            wav = speak(voice, sentence)
            if args.telephone:
                wav = telephone(wav)
            audio = decode_wav(
                wav,
                name=f"{voice}/{index}",
                max_bytes=settings.voice_max_audio_bytes,
                min_seconds=settings.voice_min_audio_seconds,
                max_seconds=settings.voice_max_audio_seconds,
            )
            if not check_speech(audio.samples, settings.voice_min_speech_seconds).sufficient:
                refused += 1
                continue
            embeddings[(voice, index)] = engine.embed(audio.samples)
    genuine, impostor = [], []
    pairs: dict[tuple[str, str], list[float]] = {}
    for voice in voices:
        enrolled = centroid([embeddings[(voice, index)] for index in range(ENROLL)])
        for (other, index), embedding in embeddings.items():
            if other == voice and index < ENROLL:
                continue
            score = cosine(enrolled, embedding)
            (genuine if other == voice else impostor).append(score)
            if other != voice:
                pairs.setdefault((voice, other), []).append(score)
    g, i = np.array(genuine), np.array(impostor)
    eer, at = equal_error_rate(g, i)
    threshold = settings.voice_match_threshold
    print(
        f"engine {engine.name}; {len(voices)} espeak-ng voices x {len(SENTENCES)} sentences; "
        f"{ENROLL} enrolled per voice; {'8 kHz telephone band' if args.telephone else 'wideband'}"
        f"; {refused} recordings refused by the speech check"
    )
    print(describe("match", g))
    print(describe("mismatch", i))
    print("\n".join(histogram(g, i)))
    print(f"equal error rate: {eer:.1%} (at threshold {at:.3f})")
    print(
        f"at the configured threshold {threshold:.2f}: false rejects "
        f"{np.mean(g < threshold):.1%}, false accepts {np.mean(i >= threshold):.1%}"
    )
    watch = settings.voice_watchlist_threshold
    print(f"at the watchlist threshold {watch:.2f}: false hits {np.mean(i >= watch):.1%}")
    closest = sorted(pairs.items(), key=lambda item: -float(np.mean(item[1])))[:5]
    print("closest voice pairs (enrolled <- scored: mean score):")
    for (enrolled_voice, scored_voice), scores in closest:
        print(f"  {enrolled_voice:9s} <- {scored_voice:9s}: {np.mean(scores):.3f}")
    print(f"(took {time.perf_counter() - started:.0f} s; informational only)")


if __name__ == "__main__":
    main()
