// Voice clips for the voiceprint step-up: recorded in the browser or uploaded, always
// sent as what identity reads best, 16 kHz mono 16-bit PCM WAV. Clips are biometric
// data: they live in this page's memory only, until they are sent or dropped.

export const SAMPLE_RATE = 16000; // identity's voice engine works at 16 kHz mono
export const MAX_RECORD_SECONDS = 8;

// Decode any audio the browser understands (a recording's WebM/Opus, an uploaded WAV)
// and resample it to SAMPLE_RATE: decodeAudioData resamples to its context's rate.
export async function toWav(bytes) {
  const context = new OfflineAudioContext(1, 1, SAMPLE_RATE);
  const audio = await context.decodeAudioData(bytes);
  const mono = new Float32Array(audio.length);
  for (let channel = 0; channel < audio.numberOfChannels; channel += 1) {
    const data = audio.getChannelData(channel);
    for (let i = 0; i < data.length; i += 1) mono[i] += data[i] / audio.numberOfChannels;
  }
  return { blob: encodeWav(mono, audio.sampleRate), seconds: audio.length / audio.sampleRate };
}

// A RIFF/WAVE file of 16-bit little-endian PCM, one channel.
export function encodeWav(samples, rate) {
  const view = new DataView(new ArrayBuffer(44 + samples.length * 2));
  const text = (offset, value) => {
    for (let i = 0; i < value.length; i += 1) view.setUint8(offset + i, value.charCodeAt(i));
  };
  text(0, "RIFF");
  view.setUint32(4, 36 + samples.length * 2, true);
  text(8, "WAVE");
  text(12, "fmt ");
  view.setUint32(16, 16, true); // fmt chunk size
  view.setUint16(20, 1, true); // PCM
  view.setUint16(22, 1, true); // mono
  view.setUint32(24, rate, true);
  view.setUint32(28, rate * 2, true); // byte rate
  view.setUint16(32, 2, true); // block align
  view.setUint16(34, 16, true); // bits per sample
  text(36, "data");
  view.setUint32(40, samples.length * 2, true);
  for (let i = 0; i < samples.length; i += 1) {
    const s = Math.max(-1, Math.min(1, samples[i]));
    view.setInt16(44 + i * 2, s < 0 ? s * 0x8000 : s * 0x7fff, true);
  }
  return new Blob([view], { type: "audio/wav" });
}

// One microphone recording at a time, stopped by the agent or after MAX_RECORD_SECONDS
// (`onStopped` gets the recording), or discarded (`onStopped` gets null). The voice goes
// to the voice engine unprocessed: no echo cancellation, noise suppression or gain
// control reshaping it.
export class Recorder {
  constructor() {
    this.recorder = null;
    this.done = null;
    this.discard = false;
  }

  get recording() {
    return this.recorder !== null;
  }

  async start(onStopped) {
    const stream = await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false },
    });
    const chunks = [];
    const recorder = new MediaRecorder(stream);
    recorder.addEventListener("dataavailable", (event) => chunks.push(event.data));
    const timer = setTimeout(() => this.stop(), MAX_RECORD_SECONDS * 1000);
    this.done = new Promise((resolve) => {
      recorder.addEventListener("stop", () => {
        clearTimeout(timer);
        for (const track of stream.getTracks()) track.stop();
        this.recorder = null;
        resolve(this.discard ? null : new Blob(chunks, { type: recorder.mimeType }));
      });
    });
    this.done.then(onStopped);
    this.discard = false;
    recorder.start();
    this.recorder = recorder;
  }

  stop({ discard = false } = {}) {
    if (this.recorder === null || this.recorder.state === "inactive") return;
    this.discard = discard;
    this.recorder.stop();
  }
}
