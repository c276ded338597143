// The join page (plain HTTP on the LAN): open the steps for this phone's browser, and go on to the HTTPS
// recorder by itself once this phone already trusts the show's certificate.
"use strict";

/** "ios", "android" or "firefox": whose certificate warning this phone will see. */
function browserKind() {
  const ua = navigator.userAgent;
  if (/Firefox\//.test(ua)) return "firefox";
  if (/iPhone|iPad|iPod/.test(ua) || (/Macintosh/.test(ua) && navigator.maxTouchPoints > 1)) return "ios";
  return "android";
}

async function forwardIfTrusted(recorder) {
  const abort = new AbortController();
  setTimeout(() => abort.abort(), 10000); // a probe that hangs changes nothing: the page stays to be read
  try {
    // An opaque answer is enough: the request only succeeds when the certificate is accepted.
    await fetch(new URL("/healthz", recorder), { mode: "no-cors", cache: "no-store", signal: abort.signal });
    location.replace(recorder);
  } catch (e) {
    // not trusted yet (or no answer in time): the steps above explain the warning
  }
}

document.getElementById(browserKind()).open = true;
forwardIfTrusted(document.getElementById("go").href);
