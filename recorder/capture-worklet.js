// Runs on the audio thread: copies the microphone's first channel out in blocks of about 43 ms
// (2048 frames at 48 kHz) with each block's peak, so the page can keep the samples and draw the level.
"use strict";
class CaptureProcessor extends AudioWorkletProcessor {
  constructor() {
    super();
    this.block = new Float32Array(2048);
    this.filled = 0;
  }

  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (!channel) return true;
    let offset = 0;
    while (offset < channel.length) {
      const n = Math.min(channel.length - offset, this.block.length - this.filled);
      this.block.set(channel.subarray(offset, offset + n), this.filled);
      this.filled += n;
      offset += n;
      if (this.filled === this.block.length) this.flush();
    }
    return true;
  }

  flush() {
    let peak = 0;
    for (let i = 0; i < this.block.length; i++) peak = Math.max(peak, Math.abs(this.block[i]));
    this.port.postMessage({ samples: this.block, peak }, [this.block.buffer]);
    this.block = new Float32Array(2048);
    this.filled = 0;
  }
}
registerProcessor("capture", CaptureProcessor);
