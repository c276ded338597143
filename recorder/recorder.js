// The participant's recorder: record raw audio, listen, trim, send as 16-bit mono WAV, follow what the
// show does with it. Plain browser APIs only (getUserMedia, AudioWorklet, XMLHttpRequest); the HTTP
// contract is docs/http.md. Text comes from strings.js.
"use strict";

const $ = (id) => document.getElementById(id);
const TOKEN = new URLSearchParams(location.search).get("token") || "";
const SHOW_POLL_MS = 4000;
const STAGE_POLL_MS = 4000; // while a sent sound waits for the stage to load or play it
const STAGE_FOLLOW_MS = 10 * 60 * 1000; // then stop asking: the page says what it knows
const MIN_RECORDING_S = 0.5;
const PHOTO_MAX_PX = 1600; // longest side of a photo after shrinking: ample for a screen, light on 3G
const DEVICE_KEY = "exsampling.device";
// Every wait has a deadline and then says what happened: a browser API that never answers must not leave the
// page sitting (WebKit's geolocation may never call back; Firefox's AudioContext never starts without an output).
const LOCATION_DEADLINE_MS = 10000;
const AUDIO_START_MS = 5000; // the AudioContext starting, the capture worklet loading
const MIC_START_MS = 30000; // the microphone: long enough to answer the browser's permission question
const FETCH_DEADLINE_MS = 15000;
const UPLOAD_DEADLINE_MS = 120000; // the server's own limit for a body (docs/http.md, body_timeout_s)
const STEP_DEADLINE_MS = 10000; // resampling, shrinking a photo: past it the original is sent
// A free ngrok tunnel answers a browser's requests with its own warning page (HTML) until the participant has
// clicked through it once; API calls that send this header get the show's JSON instead (docs/http.md).
const TUNNEL_HEADERS = { "ngrok-skip-browser-warning": "1" };

const state = {
  phase: "idle",
  show: null,
  limits: { max_recording_s: 30, max_upload_mb: 20, sample_rate_hz: 22050 },
  rec: null, // while recording: {ctx, stream, chunks, frames, peak, max}
  audio: null, // after recording: {samples: Float32Array, rate}
  location: null, // {lat, lon, accuracy} once the browser gave one
  form: null, // the upload, kept so a retry never needs a new recording
  attempts: 0,
  retryTimer: null,
  player: null,
};

class Late extends Error {}

/** ``promise``, or a Late error once ``ms`` have passed without an answer. */
function within(promise, ms) {
  let timer;
  const late = new Promise((resolve, reject) => { timer = setTimeout(() => reject(new Late(`${ms} ms`)), ms); });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** ``{response, body}`` of a GET whose answer (headers and JSON body) comes within FETCH_DEADLINE_MS, else throws. */
async function getJson(url) {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), FETCH_DEADLINE_MS);
  try {
    const response = await fetch(url, { cache: "no-store", signal: abort.signal, headers: TUNNEL_HEADERS });
    return { response, body: await response.json() };
  } finally {
    clearTimeout(timer);
  }
}

function randomId() {
  return [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** This phone's id, kept across reloads: the show's rate limit counts per phone, not per address (a venue's
 * phones often share one). A browser that refuses storage gets a new one per page. */
const DEVICE = (() => {
  try {
    const kept = localStorage.getItem(DEVICE_KEY) || randomId();
    localStorage.setItem(DEVICE_KEY, kept);
    return kept;
  } catch (e) {
    return randomId();
  }
})();

/** Why this browser cannot record here, as a strings.js key ("" when it can): a Wi-Fi sign-in window or an
 * app's built-in browser (recognised by their user agents), or no microphone API at all. */
function recordingBlocker() {
  const ua = navigator.userAgent;
  if (window.isSecureContext && !navigator.mediaDevices?.getUserMedia) return "no_mic_api";
  if (/FBAN|FBAV|Instagram|Line\/|MicroMessenger|TikTok|Snapchat|Twitter/i.test(ua)) return "in_app_browser";
  // Apple's captive-portal window and in-app web views drop the "Safari/" token every iOS browser keeps;
  // Android's sign-in window and web views add "; wv)".
  if ((/iPhone|iPad|iPod/.test(ua) && !/Safari\//.test(ua)) || /; wv\)/.test(ua)) return "mini_browser";
  return "";
}

function showBlocker(key) {
  const browser = /iPhone|iPad|iPod|Macintosh/.test(navigator.userAgent) ? "Safari" : "Chrome";
  $("mini-text").textContent = t(key, { browser });
  $("link-text").value = location.href;
  $("mini-browser").hidden = false;
  $("record").disabled = key === "no_mic_api";
  showOwnRecorder();
}

/** Offer the phone's own recorder (or camera): a file input, which needs no secure context and no audio API. */
function showOwnRecorder(key = "own_fallback") {
  $("own-text").textContent = t(key);
  $("own-recorder").hidden = false;
}

async function copyLink() {
  const field = $("link-text");
  try {
    await within(navigator.clipboard.writeText(field.value), 3000);
  } catch (e) {
    field.select(); // mini-browsers often have no clipboard API: leave it selected for a long press
    document.execCommand?.("copy");
  }
  $("copy-link").textContent = t("link_copied");
}

/** ``path`` (relative, so a proxy prefix keeps working) with the show token. */
function api(path) {
  return `${path}?token=${encodeURIComponent(TOKEN)}`;
}

function setPhase(phase) {
  const panel = { idle: "capture", recording: "capture", review: "review", upload: "upload", result: "result" };
  state.phase = phase;
  document.body.dataset.phase = phase;
  for (const id of ["capture", "review", "upload", "result"]) $(id).hidden = panel[phase] !== id;
  $("record").hidden = phase === "recording" || !window.isSecureContext;
  $("stop").hidden = phase !== "recording";
  if (phase === "idle") $("countdown").textContent = t("max_length", { s: state.limits.max_recording_s });
}

function showError(text) {
  $("error-text").textContent = text;
  $("error").hidden = false;
  $("error").scrollIntoView({ block: "nearest" });
}

function clearError() {
  $("error").hidden = true;
}

// -- the show's state ---------------------------------------------------------------------------

async function refreshShow() {
  try {
    const { response, body } = await getJson(api("api/show"));
    if (response.status === 403) {
      renderBanner("closed", t("err_bad_token"));
      return;
    }
    if (!response.ok) throw new Error(body.message);
    state.show = body;
    state.limits = body.limits;
    renderBanner(body.open ? "open" : "closed", t(body.open ? "show_open" : "show_closed"), body.prompt);
    $("counts").textContent = t("counts", { recordings: body.counts.recordings });
    if (state.phase === "idle") setPhase("idle");
  } catch (e) {
    renderBanner("offline", t("show_offline"));
  }
}

function renderBanner(kind, text, prompt = "") {
  $("show").dataset.state = kind;
  $("show-state").textContent = text;
  $("prompt").hidden = !prompt;
  $("prompt").textContent = prompt ? t("prompt", { prompt }) : "";
  $("send").disabled = kind === "closed";
}

// -- recording ----------------------------------------------------------------------------------

function micError(e) {
  if (e.name === "NotAllowedError" || e.name === "SecurityError") return t("err_mic_denied");
  if (e.name === "NotFoundError" || e.name === "OverconstrainedError") return t("err_no_mic");
  if (e.name === "NotReadableError") return t("err_mic_busy");
  return t("err_no_audio_api");
}

async function startRecording() {
  clearError();
  if (!window.isSecureContext) return showError(t("err_insecure"));
  if (!navigator.mediaDevices?.getUserMedia || !window.AudioWorkletNode) {
    showOwnRecorder();
    return showError(t("err_no_audio_api"));
  }
  // Created inside the tap: mobile Safari only lets audio start from a user gesture.
  const ctx = new AudioContext();
  locate();
  $("record").disabled = true; // one start at a time, however long the browser takes
  let stream, gaveUp = false;
  try {
    const asking = navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false },
    });
    asking.then((late) => gaveUp && late.getTracks().forEach((track) => track.stop()), () => {});
    stream = await within(asking, MIC_START_MS);
    await within(ctx.audioWorklet.addModule("recorder/capture-worklet.js"), AUDIO_START_MS);
  } catch (e) {
    gaveUp = true; // a microphone granted after the deadline is released at once
    ctx.close();
    stream?.getTracks().forEach((track) => track.stop());
    $("record").disabled = false;
    showOwnRecorder();
    if (e instanceof Late) return showError(t(stream ? "err_audio_stuck" : "err_mic_stuck",
      { s: (stream ? AUDIO_START_MS : MIC_START_MS) / 1000 }));
    return showError(micError(e));
  }
  const node = new AudioWorkletNode(ctx, "capture");
  const rec = { ctx, stream, chunks: [], frames: 0, peak: 0, max: Math.floor(state.limits.max_recording_s * ctx.sampleRate) };
  node.port.onmessage = (event) => {
    const { samples, peak } = event.data;
    rec.chunks.push(samples);
    rec.frames += samples.length;
    rec.peak = Math.max(peak, rec.peak * 0.85);
    if (rec.frames >= rec.max) stopRecording();
  };
  ctx.createMediaStreamSource(stream).connect(node);
  node.connect(ctx.destination); // the destination pulls the worklet; it writes nothing, so nothing is heard
  try {
    await within(ctx.resume(), AUDIO_START_MS);
  } catch (e) {
    stream.getTracks().forEach((track) => track.stop());
    ctx.close(); // not awaited: a context that never started may never close either
    $("record").disabled = false;
    showOwnRecorder();
    return showError(t("err_audio_stuck", { s: AUDIO_START_MS / 1000 }));
  }
  $("record").disabled = false;
  state.rec = rec;
  setPhase("recording");
  requestAnimationFrame(drawLevel);
}

function drawLevel() {
  const rec = state.rec;
  if (!rec) {
    $("level").style.width = "0";
    return;
  }
  const left = Math.max(0, (rec.max - rec.frames) / rec.ctx.sampleRate);
  $("countdown").textContent = t("time_left", { s: Math.ceil(left) });
  $("level").style.width = `${Math.min(100, Math.sqrt(rec.peak) * 100)}%`; // √: quiet sounds still move it
  requestAnimationFrame(drawLevel);
}

function stopRecording() {
  const rec = state.rec;
  if (!rec) return;
  state.rec = null;
  rec.stream.getTracks().forEach((track) => track.stop());
  rec.ctx.close();
  const frames = Math.min(rec.frames, rec.max);
  const samples = new Float32Array(frames);
  let offset = 0;
  for (const chunk of rec.chunks) {
    samples.set(chunk.subarray(0, frames - offset), offset);
    offset += Math.min(chunk.length, frames - offset);
  }
  if (frames < MIN_RECORDING_S * rec.ctx.sampleRate) {
    setPhase("idle");
    return showError(t("err_too_short"));
  }
  state.audio = { samples, rate: rec.ctx.sampleRate };
  $("trim-start").value = 0;
  $("trim-end").value = 1000;
  setPhase("review");
  updateSelection();
  renderNotes();
}

// -- listening and trimming -----------------------------------------------------------------------

/** The kept part as sample indices [start, end). */
function selection() {
  const n = state.audio.samples.length;
  return [Math.floor((n * $("trim-start").value) / 1000), Math.ceil((n * $("trim-end").value) / 1000)];
}

function onTrim(event) {
  const start = $("trim-start"), end = $("trim-end");
  const gap = Math.ceil((1000 * MIN_RECORDING_S * state.audio.rate) / state.audio.samples.length);
  if (Number(end.value) - Number(start.value) < gap) {
    if (event.target === start) start.value = Math.max(0, Number(end.value) - gap);
    else end.value = Math.min(1000, Number(start.value) + gap);
  }
  stopPlayback();
  updateSelection();
}

function updateSelection() {
  const [start, end] = selection();
  const rate = state.audio.rate;
  $("selection").textContent = t("selection", {
    from: (start / rate).toFixed(1), to: (end / rate).toFixed(1), len: ((end - start) / rate).toFixed(1),
  });
  drawWave();
}

function drawWave() {
  const canvas = $("wave");
  const width = (canvas.width = Math.max(1, Math.round(canvas.clientWidth * devicePixelRatio)));
  const height = (canvas.height = Math.round(canvas.clientHeight * devicePixelRatio));
  const g = canvas.getContext("2d");
  const { samples } = state.audio;
  const [start, end] = selection();
  const per = samples.length / width;
  for (let x = 0; x < width; x++) {
    let lo = 0, hi = 0;
    for (let i = Math.floor(x * per); i < Math.floor((x + 1) * per); i++) {
      lo = Math.min(lo, samples[i]);
      hi = Math.max(hi, samples[i]);
    }
    const kept = x * per >= start && x * per < end;
    g.fillStyle = kept ? "#ff4d5e" : "#4a4f59";
    g.fillRect(x, ((1 - hi) * height) / 2, 1, Math.max(1, ((hi - lo) * height) / 2));
  }
}

function togglePlayback() {
  if (state.player) return stopPlayback();
  const [start, end] = selection();
  const url = URL.createObjectURL(wavBlob(state.audio.samples.subarray(start, end), state.audio.rate));
  // An <audio> element, not the AudioContext: iOS routes it to the speaker once the mic is released.
  state.player = new Audio(url);
  state.player.onended = stopPlayback;
  state.player.play();
  $("play").textContent = t("playing");
}

function stopPlayback() {
  if (!state.player) return;
  state.player.pause();
  URL.revokeObjectURL(state.player.src);
  state.player = null;
  $("play").textContent = t("play");
}

// -- location and the optional fields ---------------------------------------------------------------

let locating = 0; // the latest request: an older one's failure must not overwrite a newer one's note

/** Ask for the location with the page's own deadline: some browsers never answer at all, not even with their
 * own timeout error. A position arriving after the deadline is still taken. */
function locate() {
  if (!navigator.geolocation) return setLocation(null, t("location_unavailable"));
  const request = ++locating;
  setLocation(null, t("location_asking"));
  const deadline = setTimeout(() => request === locating && !state.location
    && setLocation(null, t("location_timeout", { s: LOCATION_DEADLINE_MS / 1000 })), LOCATION_DEADLINE_MS);
  navigator.geolocation.getCurrentPosition(
    (p) => {
      clearTimeout(deadline);
      setLocation(
        { lat: p.coords.latitude, lon: p.coords.longitude, accuracy: p.coords.accuracy },
        t("location_ok", { m: Math.round(p.coords.accuracy) }),
      );
    },
    (e) => {
      clearTimeout(deadline);
      if (request === locating && !state.location) {
        setLocation(null, t(e.code === e.PERMISSION_DENIED ? "location_denied" : "location_unavailable"));
      }
    },
    { enableHighAccuracy: true, timeout: LOCATION_DEADLINE_MS, maximumAge: 60000 },
  );
}

function setLocation(location, note) {
  state.location = location;
  $("location-note").textContent = note;
  $("location-retry").hidden = Boolean(location) || note === t("location_asking");
}

function renderNotes() {
  $("name-note").hidden = Boolean($("name").value.trim());
  $("name-note").textContent = t("missing_name");
}

// -- encoding ------------------------------------------------------------------------------------

/** ``samples`` (float, −1…1) as a 16-bit PCM mono WAV file. */
function wavBlob(samples, rate) {
  const view = new DataView(new ArrayBuffer(44 + samples.length * 2));
  const text = (offset, s) => [...s].forEach((c, i) => view.setUint8(offset + i, c.charCodeAt(0)));
  text(0, "RIFF");
  view.setUint32(4, 36 + samples.length * 2, true);
  text(8, "WAVEfmt ");
  view.setUint32(16, 16, true); // fmt chunk size
  view.setUint16(20, 1, true); // PCM
  view.setUint16(22, 1, true); // mono
  view.setUint32(24, rate, true);
  view.setUint32(28, rate * 2, true); // bytes per second
  view.setUint16(32, 2, true); // bytes per frame
  view.setUint16(34, 16, true); // bits per sample
  text(36, "data");
  view.setUint32(40, samples.length * 2, true);
  for (let i = 0; i < samples.length; i++) {
    const s = Math.max(-1, Math.min(1, samples[i]));
    view.setInt16(44 + i * 2, s < 0 ? s * 0x8000 : s * 0x7fff, true);
  }
  return new Blob([view.buffer], { type: "audio/wav" });
}

/** ``samples`` at ``target`` Hz (the show's working rate: less to send, nothing it uses is lost). */
async function resample(samples, rate, target) {
  if (!target || target >= rate) return [samples, rate];
  try {
    const offline = new OfflineAudioContext(1, Math.ceil((samples.length * target) / rate), target);
    const buffer = offline.createBuffer(1, samples.length, rate);
    buffer.copyToChannel(samples, 0);
    const source = offline.createBufferSource();
    source.buffer = buffer;
    source.connect(offline.destination);
    source.start();
    return [(await within(offline.startRendering(), STEP_DEADLINE_MS)).getChannelData(0), target];
  } catch (e) {
    return [samples, rate]; // a browser that cannot resample (in time) sends the original rate
  }
}

/** A phone photo shrunk to a JPEG of at most PHOTO_MAX_PX; the original when the browser cannot decode it. */
async function shrinkPhoto(file) {
  try {
    const bitmap = await within(createImageBitmap(file), STEP_DEADLINE_MS);
    const scale = Math.min(1, PHOTO_MAX_PX / Math.max(bitmap.width, bitmap.height));
    const canvas = document.createElement("canvas");
    canvas.width = Math.round(bitmap.width * scale);
    canvas.height = Math.round(bitmap.height * scale);
    canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    return await within(new Promise((resolve) => canvas.toBlob((blob) => resolve(blob || file), "image/jpeg", 0.85)),
      STEP_DEADLINE_MS);
  } catch (e) {
    return file;
  }
}

// -- sending ---------------------------------------------------------------------------------------

async function send() {
  clearError();
  stopPlayback();
  $("send").disabled = true;
  const [start, end] = selection();
  const [samples, rate] = await resample(state.audio.samples.subarray(start, end), state.audio.rate,
    state.limits.sample_rate_hz);
  await sendAudio(wavBlob(samples, rate), "recording.wav");
}

/** What the phone's own recorder or camera saved, sent as it is: the show decodes AAC, Opus, AMR, a video's
 * sound (docs/http.md, "Audio formats"). */
async function sendOwnRecording() {
  const file = $("own-file").files[0];
  if (!file) return;
  clearError();
  if (file.size > state.limits.max_upload_mb * 2 ** 20) {
    $("own-file").value = "";
    return showError(t("err_file_too_large", { mb: state.limits.max_upload_mb }));
  }
  state.audio = null; // nothing to listen to or trim here: the phone's recorder did that
  await sendAudio(file, file.name || "recording");
  $("own-file").value = "";
}

async function sendAudio(audio, filename) {
  const form = new FormData();
  form.append("token", TOKEN);
  form.append("upload_id", randomId()); // the same id on every retry: the show stores it once
  form.append("audio", audio, filename);
  if (state.location) {
    form.append("lat", state.location.lat);
    form.append("lon", state.location.lon);
    form.append("accuracy", state.location.accuracy);
  }
  form.append("name", $("name").value.trim());
  const photo = $("photo").files[0];
  if (photo) form.append("photo", await shrinkPhoto(photo), "photo.jpg");
  state.form = form;
  state.attempts = 0;
  upload();
}

function upload() {
  clearTimeout(state.retryTimer);
  state.retryTimer = null;
  state.attempts += 1;
  setPhase("upload");
  $("retry").hidden = true;
  $("progress").value = 0;
  $("upload-text").textContent = t("sending", { pct: 0 });
  const xhr = new XMLHttpRequest();
  xhr.open("POST", api("api/recordings"));
  xhr.setRequestHeader("X-Exsampling-Device", DEVICE);
  for (const [name, value] of Object.entries(TUNNEL_HEADERS)) xhr.setRequestHeader(name, value);
  xhr.responseType = "json";
  xhr.timeout = UPLOAD_DEADLINE_MS;
  xhr.upload.onprogress = (e) => {
    const pct = e.lengthComputable ? Math.round((100 * e.loaded) / e.total) : 0;
    $("progress").value = pct;
    $("upload-text").textContent = t("sending", { pct });
  };
  // A lost network, or the show saying "later" (busy, its disk full, a proxy without it), is tried again by
  // itself, as long as it takes; a refusal (4xx) would be refused again; a server fault (500…) a few times only,
  // then the phone says what the show said.
  xhr.onload = () => {
    const later = LATER.includes(xhr.status) || (xhr.status >= 500 && state.attempts < SERVER_FAULT_TRIES);
    if (later) scheduleRetry(Number(xhr.getResponseHeader("Retry-After")) || 0);
    else onAnswer(xhr.status, xhr.response || {});
  };
  xhr.onerror = xhr.ontimeout = () => scheduleRetry(0);
  xhr.send(state.form);
}

/** Answers that mean "send it again later": 502/504 a proxy or tunnel without the show, 503 busy, 507 disk full. */
const LATER = [502, 503, 504, 507];
/** Attempts in all for an upload the show answers with another server error. */
const SERVER_FAULT_TRIES = 3;

/** Network gone or the show briefly down: try again by itself (not before the show's Retry-After, in seconds),
 * sooner when the phone says it is back online. */
function scheduleRetry(afterS) {
  $("upload-text").textContent = t("retrying", { n: state.attempts });
  $("retry").hidden = false;
  state.retryTimer = setTimeout(upload, Math.max(Math.min(afterS, 60), Math.min(30, 2 ** state.attempts)) * 1000);
}

function onAnswer(status, body) {
  $("send").disabled = $("show").dataset.state === "closed";
  if (status === 200 || status === 201) {
    state.form = null;
    refreshShow(); // the count now includes this sound
    $("steps").replaceChildren(step(t("step_received"), "done"));
    setPhase("result");
    return followRecording(body.id);
  }
  setPhase(state.audio ? "review" : "idle"); // the recording is kept: trim it, wait, or send again
  const messages = {
    bad_token: () => t("err_bad_token"),
    show_closed: () => t("err_show_closed"),
    rate_limited: () => t("err_rate_limited", { s: body.retry_after_s }),
    too_large: () => t("err_too_large"),
    too_long: () => t("err_too_long", { message: body.message }),
    photo_too_large: () => t("err_photo_too_large"),
  };
  showError((messages[body.error] || (() => t("err_server", { message: body.message || status })))());
}

// -- what became of it -----------------------------------------------------------------------------

/** Whether the stage may still say something about ``s``: sent, and neither played nor refused yet. */
function awaitingStage(s) {
  return s.status === "sent" && s.stage && ["sent", "loaded"].includes(s.stage.state);
}

async function followRecording(id, since = Date.now()) {
  let response, body;
  try {
    ({ response, body } = await getJson(api(`api/recordings/${id}`)));
  } catch (e) {
    return setTimeout(followRecording, 3000, id, since); // offline for a moment: keep following
  }
  if (!response.ok) return showError(t("err_server", { message: body.message }));
  renderResult(body);
  const waiting = body.samples.some((s) => s.status === "new");
  const decided = ["silent", "failed"].includes(body.status)
    || (body.status === "done" && body.samples.every((s) => ["sent", "rejected"].includes(s.status) || !s.instrument));
  // "played on stage" is only said once the stage says so, which may take a while (the next note on that track)
  const stageLeft = decided && body.samples.some(awaitingStage) && Date.now() - since < STAGE_FOLLOW_MS;
  if (!decided) setTimeout(followRecording, waiting ? 4000 : 1500, id, since);
  else if (stageLeft) setTimeout(followRecording, STAGE_POLL_MS, id, since);
}

function step(text, kind = "") {
  const li = document.createElement("li");
  li.textContent = text;
  li.className = kind;
  return li;
}

/** The last step of a sent sample: what the stage answered, and only that (docs/http.md, "stage"). */
function stageStep(stage) {
  if (!stage || stage.state === "sent") return step(t("step_sent"));
  if (stage.state === "loaded") return step(t("step_loaded"), "done");
  if (stage.state === "played") {
    return step(stage.played > 1 ? t("step_played_n", { n: stage.played }) : t("step_played"), "stage");
  }
  return step(t("step_not_loaded"), "bad");
}

function sampleSteps(s) {
  const heard = { label: s.label, pct: Math.round(s.confidence * 100) };
  const items = [
    s.label ? step(t(s.unsure ? "step_classified_unsure" : "step_classified", heard), "done")
      : step(t("step_unclassified")),
    s.instrument ? step(t("step_mapped", { instrument: s.instrument }), "done") : step(t("step_unmapped")),
    s.note ? step(t("step_pitch", { note: s.note, hz: s.pitch_hz.toFixed(1) }), "done") : step(t("step_unpitched")),
  ];
  const decision = { new: ["step_waiting", ""], accepted: ["step_accepted", "done"],
    rejected: ["step_rejected", "bad"] }[s.status];
  if (s.instrument && decision) items.push(step(t(decision[0]), decision[1]));
  if (s.instrument && s.status === "sent") items.push(stageStep(s.stage));
  return items;
}

function renderResult(body) {
  const items = [step(t("step_received"), "done")];
  if (body.status === "received" || body.status === "processing") items.push(step(t("step_processing")));
  if (body.status === "silent") items.push(step(t("result_silent"), "bad"));
  if (body.status === "failed") items.push(step(t("result_failed", { error: body.error }), "bad"));
  if (body.samples.length === 1) items.push(...sampleSteps(body.samples[0]));
  for (const [i, s] of (body.samples.length > 1 ? body.samples : []).entries()) {
    // A long recording becomes several samples: one heading per part, its steps beneath.
    const li = step(t("sample_n", { n: i + 1, from: s.start_s.toFixed(1), to: (s.start_s + s.duration_s).toFixed(1) }));
    const list = document.createElement("ul");
    list.replaceChildren(...sampleSteps(s));
    li.append(list);
    items.push(li);
  }
  $("result").dataset.status = body.status;
  $("steps").replaceChildren(...items);
}

// -- wiring ------------------------------------------------------------------------------------------

function init() {
  translatePage();
  document.title = t("title");
  setPhase("idle");
  if (!window.isSecureContext) { // plain HTTP on the venue's network: no microphone here, the phone's recorder
    $("record").disabled = true;
    $("countdown").hidden = $("level").parentElement.hidden = true;
    showOwnRecorder("own_insecure");
  }
  const blocker = recordingBlocker();
  if (blocker) showBlocker(blocker);
  $("copy-link").onclick = copyLink;
  $("own-file").onchange = sendOwnRecording;
  $("record").onclick = startRecording;
  $("stop").onclick = stopRecording;
  $("trim-start").oninput = $("trim-end").oninput = onTrim;
  $("play").onclick = togglePlayback;
  $("again").onclick = () => { stopPlayback(); setPhase("idle"); };
  $("send").onclick = send;
  $("retry").onclick = upload;
  $("another").onclick = () => setPhase("idle");
  $("location-retry").onclick = locate;
  $("name").oninput = renderNotes;
  $("error-dismiss").onclick = clearError;
  window.addEventListener("online", () => state.retryTimer && upload());
  window.addEventListener("resize", () => state.phase === "review" && drawWave());
  refreshShow();
  setInterval(refreshShow, SHOW_POLL_MS);
}

init();
