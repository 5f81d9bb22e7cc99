// mmx explorer: a canvas map of every trailer, filters, and a detail panel fed by the JSON API.
"use strict";

const PALETTE = ["#e6194b", "#3cb44b", "#ffe119", "#4363d8", "#f58231", "#911eb4", "#46f0f0", "#f032e6",
  "#bcf60c", "#fabebe", "#008080", "#e6beff", "#9a6324", "#fffac8", "#aaffc3", "#808000", "#ffd8b1",
  "#7f7fff", "#ff7f7f", "#7fffbf", "#c0c0c0", "#ff69b4"];
const NO_GENRE = "#8a8a8a";
const DIM = "#3a3b42";

const $ = (id) => document.getElementById(id);
const canvas = $("map");
const ctx = canvas.getContext("2d");
const state = {
  map: null,          // /api/map answer
  colours: [],        // per genre index
  matched: null,      // Uint8Array: 1 when the point passes the filters
  view: { scale: 1, dx: 0, dy: 0 },  // screen = base * scale + d
  base: null,         // Float32Array [x0, y0, x1, y1, ...] in CSS pixels at scale 1
  hover: -1,
  selected: -1,
  space: null,
};

async function getJSON(url) {
  const r = await fetch(url);
  const body = await r.json();
  if (!r.ok) throw new Error(body.detail || r.statusText);
  return body;
}

// ---------------------------------------------------------------- loading
async function init() {
  const health = await getJSON("/api/health");
  if (health.spaces.length > 1) buildSpaceSwitch(health.spaces);
  await loadMap(health.spaces[0]);
  const params = new URLSearchParams(location.search);
  if (params.get("id")) openTrailer(params.get("id"));
}

function buildSpaceSwitch(spaces) {
  const box = $("space-switch");
  box.hidden = false;
  box.append("Space ");
  for (const s of spaces) {
    const label = document.createElement("label");
    label.innerHTML = `<input type="radio" name="space" value="${s}"> ${s}`;
    label.querySelector("input").checked = s === spaces[0];
    label.querySelector("input").addEventListener("change", () => loadMap(s));
    box.append(label);
  }
}

async function loadMap(space) {
  $("status").hidden = false;
  $("status").textContent = `loading the ${space} map…`;
  const map = await getJSON(`/api/map?space=${encodeURIComponent(space)}`);
  state.map = map;
  state.space = space;
  state.colours = map.genres.map((g, i) => PALETTE[i % PALETTE.length]);
  state.genreCounts = map.genres.map(() => 0);
  for (const l of map.labels) for (const g of l) state.genreCounts[g]++;
  colourKeys();
  state.index = new Map(map.ids.map((id, i) => [id, i]));
  state.lowerTitles = map.titles.map((t, i) => (t + " " + map.ids[i]).toLowerCase());
  canvas.dataset.count = String(map.count);
  canvas.dataset.space = space;
  fillGenreSelect(map.genres);
  state.view = { scale: 1, dx: 0, dy: 0 };
  resize();
  applyFilters();
  $("status").hidden = true;
  canvas.dataset.ready = "1";
}

function colourKeys() {
  // each point's colour: its first listed genre, or its rarest one (the most telling when labels are alphabetical)
  const rarest = $("colour-by").value === "rarest";
  const count = state.genreCounts;
  state.primary = Int32Array.from(state.map.labels, (l) => {
    if (!l.length) return -1;
    return rarest ? l.reduce((a, b) => (count[b] < count[a] ? b : a)) : l[0];
  });
  buildLegend(state.map.genres);
}

function fillGenreSelect(genres) {
  const sel = $("genre");
  const current = sel.value;
  sel.length = 1;
  for (const g of genres) sel.add(new Option(g, g));
  sel.value = genres.includes(current) ? current : "";
}

function buildLegend(genres) {
  const counts = genres.map(() => 0);
  for (const p of state.primary) if (p >= 0) counts[p]++;
  const legend = $("legend");
  legend.innerHTML = "";
  genres.map((g, i) => [g, i]).filter(([, i]) => counts[i] > 0).sort((a, b) => counts[b[1]] - counts[a[1]])
    .forEach(([g, i]) => {
      const span = document.createElement("span");
      span.innerHTML = `<i style="background:${state.colours[i]}"></i>${escapeHtml(g)} (${counts[i]})`;
      span.addEventListener("click", () => { $("genre").value = $("genre").value === g ? "" : g; applyFilters(); });
      legend.append(span);
    });
}

// ---------------------------------------------------------------- geometry and drawing
function resize() {
  const rect = canvas.getBoundingClientRect();
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.max(1, Math.round(rect.width * ratio));
  canvas.height = Math.max(1, Math.round(rect.height * ratio));
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  if (!state.map) return;
  const { x, y } = state.map;
  let [x0, x1, y0, y1] = [Infinity, -Infinity, Infinity, -Infinity];
  for (let i = 0; i < x.length; i++) {
    x0 = Math.min(x0, x[i]); x1 = Math.max(x1, x[i]); y0 = Math.min(y0, y[i]); y1 = Math.max(y1, y[i]);
  }
  const pad = 20;
  const s = Math.min((rect.width - 2 * pad) / (x1 - x0 || 1), (rect.height - 2 * pad) / (y1 - y0 || 1));
  const ox = (rect.width - s * (x1 - x0)) / 2, oy = (rect.height - s * (y1 - y0)) / 2;
  state.base = new Float32Array(2 * x.length);
  for (let i = 0; i < x.length; i++) {
    state.base[2 * i] = ox + s * (x[i] - x0);
    state.base[2 * i + 1] = oy + s * (y1 - y[i]);
  }
  draw();
}

function screen(i) {
  const { scale, dx, dy } = state.view;
  return [state.base[2 * i] * scale + dx, state.base[2 * i + 1] * scale + dy];
}

let frame = 0;
function draw() {
  if (frame) return;
  frame = requestAnimationFrame(() => { frame = 0; paint(); });
}

function paint() {
  const rect = canvas.getBoundingClientRect();
  ctx.clearRect(0, 0, rect.width, rect.height);
  if (!state.map) return;
  const n = state.map.count;
  const r = Math.min(6, 2.2 * Math.sqrt(state.view.scale));
  // one path per colour: dimmed points first, then each genre's matching points
  const groups = new Map();
  for (let i = 0; i < n; i++) {
    const key = state.matched[i] ? state.primary[i] : -2;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(i);
  }
  const order = [...groups.keys()].sort((a, b) => (a === -2 ? -1 : b === -2 ? 1 : 0));
  for (const key of order) {
    ctx.fillStyle = key === -2 ? DIM : key === -1 ? NO_GENRE : state.colours[key];
    ctx.beginPath();
    for (const i of groups.get(key)) {
      const [sx, sy] = screen(i);
      ctx.moveTo(sx + r, sy);
      ctx.arc(sx, sy, r, 0, 2 * Math.PI);
    }
    ctx.fill();
  }
  for (const [i, colour] of [[state.hover, "#fff"], [state.selected, "#ffeb3b"]]) {
    if (i < 0) continue;
    const [sx, sy] = screen(i);
    ctx.strokeStyle = colour;
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.arc(sx, sy, r + 4, 0, 2 * Math.PI);
    ctx.stroke();
  }
}

function pick(mx, my) {
  // nearest matching point within 8 px (a linear scan: ~10k points take well under a millisecond)
  let best = -1, bestD = 64;
  const n = state.map ? state.map.count : 0;
  for (let i = 0; i < n; i++) {
    if (!state.matched[i]) continue;
    const [sx, sy] = screen(i);
    const d = (sx - mx) ** 2 + (sy - my) ** 2;
    if (d < bestD) { bestD = d; best = i; }
  }
  return best;
}

// ---------------------------------------------------------------- filters
function applyFilters() {
  if (!state.map) return;
  const q = $("search").value.trim().toLowerCase();
  const genre = $("genre").value;
  const g = genre ? state.map.genres.indexOf(genre) : -1;
  const from = parseInt($("year-from").value, 10), to = parseInt($("year-to").value, 10);
  const n = state.map.count;
  const matched = new Uint8Array(n);
  let shown = 0;
  for (let i = 0; i < n; i++) {
    const year = state.map.years[i];
    let ok = !q || state.lowerTitles[i].includes(q);
    if (ok && g >= 0) ok = state.map.labels[i].includes(g);
    if (ok && !isNaN(from)) ok = year != null && year >= from;
    if (ok && !isNaN(to)) ok = year != null && year <= to;
    matched[i] = ok ? 1 : 0;
    shown += matched[i];
  }
  state.matched = matched;
  canvas.dataset.shown = String(shown);
  $("shown").textContent = `${shown.toLocaleString()} of ${n.toLocaleString()} trailers`;
  showResults(q);
  draw();
}

function showResults(q) {
  const list = $("results");
  list.innerHTML = "";
  if (!q) { list.hidden = true; return; }
  let count = 0;
  for (let i = 0; i < state.map.count && count < 30; i++) {
    if (!state.matched[i]) continue;
    list.append(trailerItem(i));
    count++;
  }
  list.hidden = count === 0;
}

function trailerItem(i, extra = "") {
  const li = document.createElement("li");
  li.dataset.id = state.map.ids[i];
  const year = state.map.years[i] != null ? ` (${state.map.years[i]})` : "";
  const genres = state.map.labels[i].map((g) => state.map.genres[g]).join(", ");
  li.innerHTML = `${escapeHtml(state.map.titles[i] || state.map.ids[i])}${year} ${extra}<br><small>${escapeHtml(genres)}</small>`;
  li.addEventListener("click", () => { $("results").hidden = true; openTrailer(li.dataset.id); });
  return li;
}

// ---------------------------------------------------------------- the panel
async function openTrailer(id) {
  const i = state.index.get(id);
  state.selected = i === undefined ? -1 : i;
  draw();
  const panel = $("panel");
  panel.hidden = false;
  panel.dataset.id = id;
  $("p-title").textContent = "loading…";
  try {
    const [d, s] = await Promise.all([
      getJSON(`/api/trailers/${encodeURIComponent(id)}`),
      getJSON(`/api/search?id=${encodeURIComponent(id)}&k=10&space=${encodeURIComponent(state.space)}`),
    ]);
    if (panel.dataset.id !== id) return;  // another trailer was opened meanwhile
    renderPanel(d, s.results);
    requestAnimationFrame(resize);
  } catch (err) {
    $("p-title").textContent = String(err.message || err);
  }
}

function renderPanel(d, hits) {
  $("p-title").textContent = d.title || d.trailer_id;
  $("p-meta").textContent = `${d.trailer_id}${d.year != null ? " · " + d.year : ""}`;
  $("p-genres").innerHTML = d.genres.map((g) => `<span>${escapeHtml(g)}</span>`).join("") || "<em>no labels</em>";
  $("p-source").textContent = `(${d.source}, threshold ${d.threshold})`;
  const probs = Object.entries(d.probabilities).sort((a, b) => b[1] - a[1]).slice(0, 10);
  $("p-probs").innerHTML = probs.map(([g, p]) =>
    `<div class="bar${d.genres.includes(g) ? " given" : ""}"><b>${escapeHtml(g)}</b>` +
    `<div style="width:${Math.round(p * 200)}px"></div>${p.toFixed(2)}</div>`).join("");
  const add = d.suggested_add.map((g) => `<span class="add">+ ${escapeHtml(g)}</span>`);
  const drop = d.suggested_drop.map((g) => `<span class="drop">− ${escapeHtml(g)}</span>`);
  $("p-suggest").innerHTML = `<div class="chips">${add.concat(drop).join("") || "<em>labels agree</em>"}</div>`;
  renderTimeline(d);
  const list = $("neighbours");
  list.innerHTML = "";
  for (const h of hits) {
    const i = state.index.get(h.trailer_id);
    if (i === undefined) continue;
    list.append(trailerItem(i, `<small>${h.score.toFixed(3)}</small>`));
  }
}

function renderTimeline(d) {
  const box = $("p-timeline-box");
  box.hidden = !d.timeline || d.timeline.length === 0;
  if (box.hidden) return;
  const c = $("p-timeline");
  const vocab = d.vocabulary;
  const mean = vocab.map((g, j) => d.timeline.reduce((s, clip) => s + clip.probabilities[j], 0));
  const top = vocab.map((g, j) => j).sort((a, b) => mean[b] - mean[a]).slice(0, 5);
  const width = c.clientWidth || 340, rowH = 22;
  c.width = width; c.height = rowH * top.length;
  const g2 = c.getContext("2d");
  const w = width / d.timeline.length;
  top.forEach((j, row) => {
    const colour = PALETTE[state.map.genres.indexOf(vocab[j]) % PALETTE.length] || "#6aa0ff";
    d.timeline.forEach((clip, k) => {
      g2.globalAlpha = clip.probabilities[j];
      g2.fillStyle = colour;
      g2.fillRect(k * w, row * rowH + 2, Math.max(w - 0.5, 0.5), rowH - 4);
    });
  });
  g2.globalAlpha = 1;
  $("p-timeline-legend").innerHTML = top.map((j) => `<span>${escapeHtml(vocab[j])}</span>`).join("");
}

function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

// ---------------------------------------------------------------- interaction
let drag = null;
canvas.addEventListener("mousedown", (e) => { drag = { x: e.offsetX, y: e.offsetY, moved: false }; });
window.addEventListener("mouseup", () => { setTimeout(() => { drag = null; }, 0); });
canvas.addEventListener("mousemove", (e) => {
  if (drag && (e.buttons & 1)) {
    const dx = e.offsetX - drag.x, dy = e.offsetY - drag.y;
    if (Math.abs(dx) + Math.abs(dy) > 2) drag.moved = true;
    state.view.dx += dx; state.view.dy += dy;
    drag.x = e.offsetX; drag.y = e.offsetY;
    draw();
    return;
  }
  const i = pick(e.offsetX, e.offsetY);
  const tip = $("tooltip");
  if (i !== state.hover) { state.hover = i; draw(); }
  if (i < 0) { tip.hidden = true; return; }
  const genres = state.map.labels[i].map((g) => state.map.genres[g]).join(", ");
  const year = state.map.years[i] != null ? ` (${state.map.years[i]})` : "";
  tip.innerHTML = `<b>${escapeHtml(state.map.titles[i] || state.map.ids[i])}</b>${year}<br>${escapeHtml(genres || "no labels")}`;
  tip.style.left = `${e.offsetX + 14}px`;
  tip.style.top = `${e.offsetY + 10}px`;
  tip.hidden = false;
});
canvas.addEventListener("mouseleave", () => { $("tooltip").hidden = true; state.hover = -1; draw(); });
canvas.addEventListener("click", (e) => {
  if (drag && drag.moved) return;
  const i = pick(e.offsetX, e.offsetY);
  if (i >= 0) openTrailer(state.map.ids[i]);
});
canvas.addEventListener("wheel", (e) => {
  e.preventDefault();
  const f = Math.exp(-e.deltaY * 0.0015);
  const v = state.view;
  const scale = Math.min(60, Math.max(0.5, v.scale * f));
  const k = scale / v.scale;
  v.dx = e.offsetX - (e.offsetX - v.dx) * k;
  v.dy = e.offsetY - (e.offsetY - v.dy) * k;
  v.scale = scale;
  draw();
}, { passive: false });

$("search").addEventListener("input", applyFilters);
$("genre").addEventListener("change", applyFilters);
$("colour-by").addEventListener("change", () => { colourKeys(); draw(); });
$("year-from").addEventListener("input", applyFilters);
$("year-to").addEventListener("input", applyFilters);
$("close").addEventListener("click", () => { $("panel").hidden = true; state.selected = -1; requestAnimationFrame(resize); });
window.addEventListener("resize", resize);

init().catch((err) => { $("status").textContent = `cannot load the collection: ${err.message || err}`; });
