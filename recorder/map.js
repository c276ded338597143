// Where the samples were recorded, drawn as SVG on a plain local projection (no tiles, no Internet):
// x = longitude × cos(mid-latitude), y = latitude, fitted to the markers. ?sample=<id> highlights one.
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";
const POLL_MS = 5000;
const MIN_SPAN_DEG = 0.005; // ≈ 500 m: a single marker still gets a readable neighbourhood
const METRES_PER_DEG = 111320;
const GRID_PX = 90;
const chosen = Number(new URLSearchParams(location.search).get("sample")) || null;

function colour(instrument) {
  let h = 0;
  for (const c of instrument || "?") h = (h * 31 + c.charCodeAt(0)) % 360;
  return `hsl(${h}, 75%, 60%)`;
}

function el(name, attrs, text) {
  const node = document.createElementNS(SVG_NS, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

/** A round grid step (…, 0.001, 0.002, 0.005, 0.01, …) in degrees keeping lines over ``range`` degrees,
 * drawn across ``px`` pixels, at least GRID_PX apart (room for a label). */
function gridStep(range, px) {
  const raw = (range * GRID_PX) / px;
  const power = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw);
}

/** Projection fitted to ``points`` in a ``width`` × ``height`` box with a margin, keeping shapes. */
function projection(points, width, height) {
  const lats = points.map((p) => p.lat), lons = points.map((p) => p.lon);
  const mid = (Math.min(...lats) + Math.max(...lats)) / 2;
  const k = Math.cos((mid * Math.PI) / 180);
  const span = Math.max(MIN_SPAN_DEG, Math.max(...lats) - Math.min(...lats), (Math.max(...lons) - Math.min(...lons)) * k);
  const scale = (Math.min(width, height) - 60) / span;
  const cx = (Math.min(...lons) + Math.max(...lons)) / 2, cy = mid;
  return {
    x: (lon) => width / 2 + (lon - cx) * k * scale,
    y: (lat) => height / 2 - (lat - cy) * scale,
    metres: (m) => (m / METRES_PER_DEG) * scale,
    bounds: { west: cx - width / 2 / k / scale, east: cx + width / 2 / k / scale,
      south: cy - height / 2 / scale, north: cy + height / 2 / scale },
  };
}

function drawGrid(svg, proj, width, height) {
  const { west, east, south, north } = proj.bounds;
  const latStep = gridStep(north - south, height), lonStep = gridStep(east - west, width);
  const digits = (step) => Math.max(0, -Math.floor(Math.log10(step)));
  for (let lat = Math.ceil(south / latStep) * latStep; lat <= north; lat += latStep) {
    svg.append(el("line", { class: "grid", x1: 0, x2: width, y1: proj.y(lat), y2: proj.y(lat) }));
    svg.append(el("text", { class: "tick", x: 4, y: proj.y(lat) - 3 }, `${lat.toFixed(digits(latStep))}°`));
  }
  for (let lon = Math.ceil(west / lonStep) * lonStep; lon <= east; lon += lonStep) {
    svg.append(el("line", { class: "grid", y1: 0, y2: height, x1: proj.x(lon), x2: proj.x(lon) }));
    svg.append(el("text", { class: "tick", x: proj.x(lon) + 3, y: height - 4 }, `${lon.toFixed(digits(lonStep))}°`));
  }
}

function drawMarker(svg, proj, s) {
  const x = proj.x(s.lon), y = proj.y(s.lat), fill = colour(s.instrument);
  const who = s.participant || t("anonymous");
  if (s.accuracy_m) svg.append(el("circle", { class: "accuracy", cx: x, cy: y, r: proj.metres(s.accuracy_m), fill, stroke: fill }));
  const dot = el("circle", { class: s.id === chosen ? "marker chosen" : "marker", cx: x, cy: y,
    r: s.id === chosen ? 9 : 6, fill, "data-sample": s.id });
  dot.append(el("title", {}, `#${s.id} ${s.label || "?"} → ${s.instrument || "—"} · ${who} · ${s.recorded_at}`));
  svg.append(dot);
  if (s.id === chosen) svg.append(el("text", { class: "label", x: x + 12, y: y + 4 }, `${s.label || "?"} → ${s.instrument || "—"}`));
}

function render(samples) {
  const svg = document.getElementById("map");
  const { width, height } = svg.getBoundingClientRect();
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  const located = samples.filter((s) => s.lat !== null && s.lon !== null);
  svg.replaceChildren();
  const unlocated = samples.length - located.length;
  const focus = samples.find((s) => s.id === chosen);
  document.getElementById("info").textContent = [
    focus ? `#${focus.id} ${focus.label || "?"} → ${focus.instrument || "—"} · ${focus.participant || t("anonymous")}` : "",
    located.length ? "" : t("map_empty"),
    unlocated ? t("map_unlocated", { n: unlocated }) : "",
  ].filter(Boolean).join(" · ");
  if (located.length) {
    const proj = projection(located, width, height);
    drawGrid(svg, proj, width, height);
    // Oldest first, so the newest (and the chosen one, drawn last) sit on top.
    for (const s of located.filter((s) => s.id !== chosen).reverse()) drawMarker(svg, proj, s);
    if (focus && located.includes(focus)) drawMarker(svg, proj, focus);
  }
  const legend = document.getElementById("legend");
  legend.replaceChildren();
  for (const instrument of [...new Set(located.map((s) => s.instrument || "—"))].sort()) {
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = colour(instrument === "—" ? null : instrument);
    legend.append(swatch, instrument);
  }
}

async function refresh() {
  try {
    const response = await fetch("api/samples?limit=300", { cache: "no-store" });
    if (!response.ok) throw new Error(response.status);
    render((await response.json()).samples);
  } catch (e) {
    document.getElementById("info").textContent = t("map_offline");
  }
}

document.title = t("map_title");
refresh();
setInterval(refresh, POLL_MS);
window.addEventListener("resize", refresh);
