// Every piece of text the recorder and the map show, in one place so a show can be translated:
// add a language under STRINGS (same keys) and the browser's language picks it. {name} is filled in.
"use strict";
const STRINGS = {
  en: {
    title: "ExSampling — record a sound",
    heading: "Record a sound for the show",
    loading: "Connecting to the show…",
    show_open: "The show is taking sounds",
    show_closed: "The show is closed for new sounds right now",
    show_offline: "Can't reach the show — retrying…",
    prompt: "The performer asks for: {prompt}",
    counts: "Sounds received so far: {recordings}",
    record: "Record",
    stop: "Stop",
    time_left: "{s} s left",
    max_length: "Up to {s} seconds",
    level: "Input level",
    review: "Listen, keep the part worth sending, then send it",
    trim_start: "Start",
    trim_end: "End",
    selection: "Sending {from}–{to} s ({len} s)",
    play: "Play",
    playing: "Stop playback",
    again: "Record again",
    send: "Send to the show",
    optional: "Your name and a photo (optional)",
    name: "Your name",
    name_hint: "Shown to the performer; leave empty to stay anonymous",
    photo: "A photo of where you are",
    location_asking: "Asking for your location…",
    location_ok: "Location shared (within {m} m)",
    location_denied: "Location not shared: your sound will not appear on the map. Allow location for this page to add it.",
    location_unavailable: "Location unavailable: your sound will not appear on the map.",
    location_timeout: "No location after {s} s: your sound will be sent without one (it will not appear on the map).",
    location_retry: "Try location again",
    missing_name: "No name: you will appear as anonymous.",
    sending: "Sending… {pct}%",
    retrying: "No connection — the upload will resume by itself when the network is back (attempt {n}).",
    retry_now: "Retry now",
    step_received: "Received by the show",
    step_processing: "Listening to your sound…",
    step_classified: "Heard as: {label} ({pct}%)",
    step_classified_unsure: "Heard as: {label}? ({pct}% — the model is unsure)",
    step_unclassified: "Not classified (the console runs without a model)",
    step_mapped: "Plays on instrument: {instrument}",
    step_unmapped: "No instrument for this sound",
    step_pitch: "Pitch: {note} ({hz} Hz)",
    step_unpitched: "No clear pitch: plays as a percussive sound",
    step_waiting: "Waiting for the performer…",
    step_accepted: "Accepted by the performer",
    step_rejected: "Not chosen by the performer this time",
    step_sent: "Sent to the stage — waiting for it to answer",
    step_loaded: "Loaded on the stage: it sounds on the next note",
    step_played: "Played on stage!",
    step_played_n: "Played on stage! ({n} times)",
    step_not_loaded: "The stage could not load it (the performer sees why and can send it again)",
    sample_n: "Part {n} ({from}–{to} s)",
    result_silent: "Nothing audible was left after trimming the quiet parts. Try again closer to the sound.",
    result_failed: "The console could not process your sound: {error}",
    record_another: "Record another sound",
    mini_browser: "This window cannot record: it is a Wi-Fi sign-in window or an app's built-in browser. Finish joining the Wi-Fi, then copy the link below and open it in {browser}.",
    in_app_browser: "This app's built-in browser cannot record. Open this page in {browser}: tap the ⋯ or share button and choose \"Open in {browser}\", or copy the link below.",
    no_mic_api: "This browser cannot record here (it gives no access to the microphone). Copy the link below and open it in {browser}.",
    copy_link: "Copy link",
    link_copied: "Copied",
    link: "The show's link",
    own_recorder: "Record with your phone's recorder",
    own_fallback: "Or record with your phone's own recorder or camera: the sound is sent when you finish.",
    own_insecure: "Record with your phone's own recorder or camera: tap below, record, and the sound is sent when you finish. (This page came over the venue's network without a secure connection, so it cannot use the microphone itself.)",
    err_audio_stuck: "Your browser did not start its audio within {s} s (on a computer this can mean no sound output is set up). Record with your phone's own recorder below instead, or reload the page and try again.",
    err_mic_stuck: "The microphone did not start within {s} s. If your browser asks for it, allow it and tap Record again; or record with your phone's own recorder below.",
    err_file_too_large: "This file is larger than the {mb} MiB the show takes. Record a shorter sound.",
    err_insecure: "This page must be opened over HTTPS (or on localhost) to use the microphone and location. Use the link from the show's QR code.",
    err_no_audio_api: "This browser cannot record audio here. Try a current Safari or Chrome.",
    err_mic_denied: "Microphone access was denied. Allow the microphone for this page in your browser's settings, then tap Record again.",
    err_no_mic: "No microphone was found on this device.",
    err_mic_busy: "The microphone is in use by another app. Close it and try again.",
    err_bad_token: "This link is missing the show's key or it is out of date. Scan the show's QR code again.",
    err_too_short: "The recording is too short; record at least half a second.",
    err_server: "The show refused the sound: {message}",
    err_too_long: "The sound is too long: {message} Move the handles to keep less and send again.",
    err_show_closed: "The show is closed for new sounds. Your recording is kept here: send it when the show opens.",
    err_rate_limited: "You have sent many sounds in a short time. Try again in {s} s.",
    err_too_large: "The recording is too large to send. Keep a shorter part.",
    err_photo_too_large: "The photo is too large for the show. Choose a smaller one, or send without a photo.",
    dismiss: "OK",
    map_title: "ExSampling — where the sounds come from",
    map_empty: "No located sounds yet",
    map_unlocated: "{n} sounds without a location",
    map_offline: "The sample list is not reachable from here (it is for the performer's own machine).",
    anonymous: "anonymous",
  },
};

/** The first of the browser's preferred languages that STRINGS has ("en" when none). */
const LANG = (navigator.languages || [navigator.language || "en"]).map((l) => l.slice(0, 2)).find((l) => STRINGS[l])
  || "en";
const TEXT = Object.assign({}, STRINGS.en, STRINGS[LANG]); // a key missing in a translation falls back to English

/** ``key``'s text with {name} placeholders filled from ``vars``. */
function t(key, vars = {}) {
  return (TEXT[key] || key).replace(/\{(\w+)\}/g, (m, name) => (name in vars ? vars[name] : m));
}

/** Fill every element with data-t="key" (its text) or data-t-label="key" (its aria-label). */
function translatePage(root = document) {
  document.documentElement.lang = LANG;
  for (const el of root.querySelectorAll("[data-t]")) el.textContent = t(el.dataset.t);
  for (const el of root.querySelectorAll("[data-t-label]")) el.setAttribute("aria-label", t(el.dataset.tLabel));
}
