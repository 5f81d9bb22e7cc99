// mmx explorer, the map: every trailer drawn as its picture from the run's atlas (`mmx.atlas`: tiles of a few
// sizes packed into sheets; the smallest come first, sharper ones are fetched as one zooms in), or as a dot when
// it has none; pictures sized from the map's density, so a few hundred trailers show pictures and 100,000 a
// mosaic. Zoom stays around the pointer; zoom to fit (button, F); a minimap says where the view is; regions
// are named by their dominant genres when zoomed out. Loaded before app.js, which loads the map and the panel.
"use strict";

const PALETTE = ["#e6194b", "#3cb44b", "#ffe119", "#4363d8", "#f58231", "#911eb4", "#46f0f0", "#f032e6",
  "#bcf60c", "#fabebe", "#008080", "#e6beff", "#9a6324", "#fffac8", "#aaffc3", "#808000", "#ffd8b1",
  "#7f7fff", "#ff7f7f", "#7fffbf", "#c0c0c0", "#ff69b4"];
const NO_GENRE = "#8a8a8a";
const DIM = "#3a3b42";
const PICTURE_MIN = 6;     // narrowest picture (CSS px): 100,000 trailers make a mosaic, not dust
const PICTURE_MAX = 320;   // widest picture (CSS px)
const FRAME_FROM = 28;     // pictures at least this wide (device px) are framed in their genre colour
const DOT_ROOM = 0.25;     // a dot's radius, as a share of the room each trailer has
const DOT_MIN = 2.2, DOT_MAX = 7;  // CSS px
const REGION_ZOOM = 3;     // region names show below this zoom
const SHEETS_KEPT = 24;    // decoded sheets of the larger levels kept (the smallest level's are all kept)
const LOADS = 4;           // sheets fetched at once
const MINI_W = 180;        // minimap width (CSS px)

const $ = (id) => document.getElementById(id);
const canvas = $("map");
const ctx = canvas.getContext("2d");
const mini = $("minimap");
const state = {
  health: null,
  map: null,          // /api/map answer
  colours: [],        // per genre index, as CSS colours
  packed: [],         // per genre index, as little-endian RGBA words for the pixel buffer
  matched: null,      // Uint8Array: 1 when the point passes the filters
  view: { scale: 1, dx: 0, dy: 0 },  // screen = base * scale + d
  base: null,         // Float32Array [x0, y0, x1, y1, ...] in CSS pixels at scale 1
  fit: null,          // map units → CSS px at scale 1: { s, ox, oy, x0, y1 }
  cssW: 0, cssH: 0,   // the canvas in CSS px
  atlas: null,        // the sheets of the run's atlas: levels, and per level each sheet's pixels once loaded
  miniImage: null,    // the minimap's points (made again when the map, filters or colours change)
  hover: -1,
  selected: -1,
  space: null,
  detail: null,       // the open trailer's detail
  review: null,       // the open trailer's review state
  findings: null,     // /api/findings/badges answer: trailer id → health badges
  findingsTimer: 0,
  paintMs: [],        // the last paint durations (read by bench/explorer.py)
};

function packColour(css) {
  const n = parseInt(css.slice(1), 16);
  return (0xff << 24 | (n & 0xff) << 16 | (n >> 8 & 0xff) << 8 | n >> 16) >>> 0;  // RGBA bytes, little-endian
}

// ---------------------------------------------------------------- geometry
function resize() {
  // the canvas follows its box; a fitted view stays fitted, any other keeps the map point at its centre
  const rect = canvas.getBoundingClientRect();
  const ratio = window.devicePixelRatio || 1;
  const v = state.view;
  const fitted = v.scale === 1 && v.dx === 0 && v.dy === 0;
  const centre = state.fit && !fitted ? toMap(state.cssW / 2, state.cssH / 2) : null;
  canvas.width = Math.max(1, Math.round(rect.width * ratio));
  canvas.height = Math.max(1, Math.round(rect.height * ratio));
  state.cssW = rect.width; state.cssH = rect.height;
  state.pixels = null;
  state.miniImage = null;
  if (!state.map) return;
  const { x, y } = state.map;
  let [x0, x1, y0, y1] = [Infinity, -Infinity, Infinity, -Infinity];
  for (let i = 0; i < x.length; i++) {
    if (x[i] < x0) x0 = x[i]; if (x[i] > x1) x1 = x[i]; if (y[i] < y0) y0 = y[i]; if (y[i] > y1) y1 = y[i];
  }
  // room at the edges for half a picture (or a dot), so every trailer is whole on screen when fitted
  const pad = Math.max(20, 0.5 * edgeRoom(rect.width, rect.height, x1 - x0, y1 - y0));
  const s = Math.max(1e-9, Math.min((rect.width - 2 * pad) / (x1 - x0 || 1), (rect.height - 2 * pad) / (y1 - y0 || 1)));
  const ox = (rect.width - s * (x1 - x0)) / 2, oy = (rect.height - s * (y1 - y0)) / 2;
  state.fit = { s, ox, oy, x0, y1 };
  state.base = new Float32Array(2 * x.length);
  for (let i = 0; i < x.length; i++) {
    state.base[2 * i] = ox + s * (x[i] - x0);
    state.base[2 * i + 1] = oy + s * (y1 - y[i]);
  }
  if (centre) centreAt(centre[0], centre[1]);
  draw();
}

function edgeRoom(w, h, spanX, spanY) {
  // the picture width at scale 1 for a canvas of w × h (the fit scale depends on the padding, which depends on it)
  const s = Math.min(w / (spanX || 1), h / (spanY || 1));
  return Math.min(PICTURE_MAX, Math.max(PICTURE_MIN, state.map.picture * s, 2 * DOT_ROOM * state.map.room * s));
}

function screen(i) {
  const { scale, dx, dy } = state.view;
  return [state.base[2 * i] * scale + dx, state.base[2 * i + 1] * scale + dy];
}

function toMap(cx, cy) {
  // CSS px on the canvas → map units
  const { scale, dx, dy } = state.view, f = state.fit;
  return [f.x0 + ((cx - dx) / scale - f.ox) / f.s, f.y1 - ((cy - dy) / scale - f.oy) / f.s];
}

function centreAt(mx, my) {
  // the map point (mx, my) at the centre of the canvas, zoom kept
  const v = state.view, f = state.fit;
  v.dx = state.cssW / 2 - (f.ox + f.s * (mx - f.x0)) * v.scale;
  v.dy = state.cssH / 2 - (f.oy + f.s * (f.y1 - my)) * v.scale;
  draw();
}

function centreOn(i) {
  centreAt(state.map.x[i], state.map.y[i]);
}

function pictureWidth() {
  // CSS px: the map's picture width (from the room each trailer has: mmx.layout.map_room), growing as one zooms in
  return Math.min(PICTURE_MAX, Math.max(PICTURE_MIN, state.map.picture * state.fit.s * state.view.scale));
}

function dotRadius() {
  return Math.min(DOT_MAX, Math.max(DOT_MIN, DOT_ROOM * state.map.room * state.fit.s * state.view.scale));
}

// ---------------------------------------------------------------- navigation
function zoomAt(x, y, factor) {
  // the map point under (x, y) stays under it
  const v = state.view;
  const scale = Math.min(400, Math.max(0.5, v.scale * factor));
  const k = scale / v.scale;
  v.dx = x - (x - v.dx) * k;
  v.dy = y - (y - v.dy) * k;
  v.scale = scale;
  draw();
}

function zoomToFit() {
  state.view = { scale: 1, dx: 0, dy: 0 };
  draw();
}

let frame = 0;
function draw() {
  if (frame) return;
  frame = requestAnimationFrame(() => { frame = 0; paint(); });
}

// ---------------------------------------------------------------- the atlas
function loadAtlas(described, tiles) {
  // the sheets of every level start unloaded; the smallest level is fetched at once, the others when seen
  state.atlas = described && described.count ? {
    aspect: described.aspect, levels: described.levels,
    status: described.levels.map((lv) => new Array(lv.sheets.length).fill(null)),  // null, "loading", "failed", "loaded"
    loaded: described.levels.map((lv) => new Array(lv.sheets.length).fill(undefined)),  // each sheet's pixels
    where: described.levels.map((lv) => placement(lv, tiles, described.count)),
    queue: [], loading: 0, kept: [], ready: false,
  } : null;
  // drawn in slot order (a Hilbert curve over the map): neighbours on screen read neighbouring tiles, which is
  // what keeps 100,000 pictures a frame in the processor's caches
  const order = Int32Array.from(tiles.keys());
  if (state.atlas) order.sort((i, j) => tiles[i] - tiles[j]);
  state.order = order;
  if (state.atlas) state.atlas.levels[0].sheets.forEach((_, s) => request(0, s));
}

function placement(level, tiles, count) {
  // per trailer (map order): its sheet of this level (-1: no picture) and where its tile starts in the sheet's words
  const [tw, th] = level.tile, cols = level.cols, per = level.per_sheet;
  const sheet = new Int32Array(tiles.length), offset = new Int32Array(tiles.length);
  for (let i = 0; i < tiles.length; i++) {
    const slot = tiles[i];
    if (slot < 0) { sheet[i] = -1; continue; }
    const s = Math.floor(slot / per), p = slot % per;
    const width = Math.min(cols, count - s * per) * tw;  // a sheet with fewer tiles than a row is narrower
    sheet[i] = s;
    offset[i] = Math.floor(p / cols) * th * width + (p % cols) * tw;
  }
  return { sheet, offset };
}

function request(level, sheet) {
  const a = state.atlas;
  if (a.status[level][sheet] !== null) return;
  a.status[level][sheet] = "loading";
  a.queue.push([level, sheet]);
  fetchSheets();
}

function fetchSheets() {
  const a = state.atlas;
  while (a.loading < LOADS && a.queue.length) {
    const [level, sheet] = a.queue.shift();
    a.loading++;
    sheetPixels(level, sheet).then((pixels) => {
      if (state.atlas !== a) return;
      a.loaded[level][sheet] = pixels;
      a.status[level][sheet] = "loaded";
      if (level > 0) keep(a, level, sheet);
      a.ready = a.status[0].every((s) => s === "loaded");
    }, () => { if (state.atlas === a) a.status[level][sheet] = "failed"; })
      .finally(() => { a.loading--; if (state.atlas === a) { fetchSheets(); draw(); } });
  }
}

async function sheetPixels(level, sheet) {
  // a sheet decoded into RGBA words the paint copies tiles from
  const version = state.atlas.levels[level].sheets[sheet];
  const img = new Image();
  img.src = `/api/atlas?level=${level}&sheet=${sheet}&v=${version}`;
  await img.decode();
  const c = document.createElement("canvas");
  c.width = img.naturalWidth; c.height = img.naturalHeight;
  const g = c.getContext("2d", { willReadFrequently: true });
  g.drawImage(img, 0, 0);
  return { words: new Uint32Array(g.getImageData(0, 0, c.width, c.height).data.buffer), width: c.width };
}

function keep(a, level, sheet) {
  a.kept.push([level, sheet]);
  while (a.kept.length > SHEETS_KEPT) {
    const [l, s] = a.kept.shift();
    a.loaded[l][s] = undefined;  // fetched again (from the browser's cache) when seen again
    a.status[l][s] = null;
  }
}

function levelPlan(pw, ph) {
  // per level up to the one whose tiles are as wide as the pictures: where each picture pixel reads in a tile
  const a = state.atlas;
  let best = a.levels.findIndex((lv) => lv.tile[0] >= pw);
  if (best < 0) best = a.levels.length - 1;
  return a.levels.slice(0, best + 1).map((lv, level) => {
    const [tw, th] = lv.tile;
    return { loaded: a.loaded[level], status: a.status[level], sheet: a.where[level].sheet, offset: a.where[level].offset,
      xmap: Int32Array.from({ length: pw }, (_, j) => Math.min(tw - 1, Math.floor((j + 0.5) * tw / pw))),
      ymap: Int32Array.from({ length: ph }, (_, k) => Math.min(th - 1, Math.floor((k + 0.5) * th / ph))) };
  });
}

// ---------------------------------------------------------------- drawing
function discOffsets(r, width) {
  // pixel offsets of a filled disc of radius r (device px) in a buffer of the given row width
  const out = [];
  const ri = Math.ceil(r);
  for (let y = -ri; y <= ri; y++) for (let x = -ri; x <= ri; x++) if (x * x + y * y <= r * r + 0.5) out.push(y * width + x);
  return Int32Array.from(out);
}

function paint() {
  const t0 = performance.now();
  const W = canvas.width, H = canvas.height;
  const ratio = W / Math.max(1, state.cssW);
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  if (!state.map || !state.base) { ctx.clearRect(0, 0, W, H); return; }
  // dots and pictures are written straight into a pixel buffer (100,000 of them take a few milliseconds)
  if (!state.pixels || state.pixels.width !== W || state.pixels.height !== H) {
    state.pixels = ctx.createImageData(W, H);
    state.words = new Uint32Array(state.pixels.data.buffer);
  }
  const words = state.words;
  words.fill(0);
  const n = state.map.count;
  const { scale, dx, dy } = state.view;
  const base = state.base, matched = state.matched, primary = state.primary, tiles = state.map.tiles;
  const r = dotRadius() * ratio;
  const disc = discOffsets(r, W);
  const margin = Math.ceil(r) + 1;
  const dim = packColour(DIM), none = packColour(NO_GENRE), packed = state.packed;
  const a = state.atlas;
  const pw = Math.max(1, Math.round(pictureWidth() * ratio)), ph = a ? Math.max(1, Math.round(pw / a.aspect)) : 0;
  const plan = a ? levelPlan(pw, ph) : null;
  const wanted = new Set();
  const pic = { words, W, H, pw, ph, plan, wanted, framed: pw >= FRAME_FROM, border: Math.max(1, Math.round(ratio)),
    none, packed, primary };
  let pictures = 0;
  const order = state.order, hover = state.hover, selected = state.selected;
  // the sharpest level wanted, at hand for most pictures once its sheets came
  const best = plan ? plan[plan.length - 1] : null, hw = pw >> 1, hh = ph >> 1;
  const bestSheet = best ? best.sheet : null, bestOffset = best ? best.offset : null, bestLoaded = best ? best.loaded : null;
  for (let pass = state.shown === n ? 1 : 0; pass < 2; pass++) {  // dimmed dots first, matching trailers on top
    for (let o = 0; o < n; o++) {
      const i = order[o];
      if ((matched[i] === 1) !== (pass === 1)) continue;
      const sx = Math.round((base[2 * i] * scale + dx) * ratio), sy = Math.round((base[2 * i + 1] * scale + dy) * ratio);
      if (pass === 1 && plan && tiles[i] >= 0) {
        if (i === hover || i === selected) continue;  // drawn last
        const x0 = sx - hw, y0 = sy - hh;
        if (x0 >= W || y0 >= H || x0 + pw <= 0 || y0 + ph <= 0) continue;
        const sheet = bestLoaded[bestSheet[i]];
        if (sheet !== undefined && !pic.framed) {
          blit(words, W, H, x0, y0, pw, ph, sheet.words, sheet.width, bestOffset[i], best.xmap, best.ymap);
          pictures++;
          continue;
        }
        const drawn = picture(i, sx, sy, pic);
        if (drawn >= 0) { pictures += drawn; continue; }
      }
      if (sx < margin || sy < margin || sx >= W - margin || sy >= H - margin) continue;
      const colour = pass === 0 ? dim : primary[i] < 0 ? none : packed[primary[i]];
      const at = sy * W + sx;
      for (let k = 0; k < disc.length; k++) words[at + disc[k]] = colour;
    }
  }
  for (const i of [state.selected, state.hover]) {  // on top of their neighbours
    if (i < 0 || !plan || tiles[i] < 0) continue;
    pictures += Math.max(0, picture(i, Math.round((base[2 * i] * scale + dx) * ratio), Math.round((base[2 * i + 1] * scale + dy) * ratio), pic));
  }
  ctx.putImageData(state.pixels, 0, 0);
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  for (const [i, colour] of [[state.hover, "#fff"], [state.selected, "#ffeb3b"]]) mark(i, colour, pw / ratio, ph / ratio, r / ratio);
  canvas.dataset.regions = String(drawRegions(a ? ph / ratio : 2 * r / ratio));
  drawMinimap();
  canvas.dataset.thumbs = String(pictures);
  if (a) {
    if (wanted.size <= SHEETS_KEPT) for (const k of wanted) request(plan.length - 1, k);
    if (a.ready && !canvas.dataset.picturesPaint) canvas.dataset.picturesPaint = performance.now().toFixed(1);
  }
  state.paintMs.push(performance.now() - t0);
  if (state.paintMs.length > 240) state.paintMs.shift();
}

function picture(i, sx, sy, p) {
  // trailer i's picture centred at (sx, sy) (device px) from the sharpest tile at hand (the one wanted is
  // fetched): 1 when drawn, 0 when off screen, -1 when no tile of it is loaded yet
  const x0 = sx - (p.pw >> 1), y0 = sy - (p.ph >> 1);
  if (x0 >= p.W || y0 >= p.H || x0 + p.pw <= 0 || y0 + p.ph <= 0) return 0;
  for (let level = p.plan.length - 1; level >= 0; level--) {
    const L = p.plan[level], k = L.sheet[i], sheet = L.loaded[k];
    if (sheet === undefined) {
      if (level === p.plan.length - 1 && L.status[k] === null) p.wanted.add(k);
      continue;
    }
    blit(p.words, p.W, p.H, x0, y0, p.pw, p.ph, sheet.words, sheet.width, L.offset[i], L.xmap, L.ymap);
    if (p.framed) frameRect(p.words, p.W, p.H, x0, y0, p.pw, p.ph, p.border, p.primary[i] < 0 ? p.none : p.packed[p.primary[i]]);
    return 1;
  }
  return -1;
}

function blit(words, W, H, x0, y0, w, h, src, sw, at, xmap, ymap) {
  // one tile (starting at word ``at`` of its sheet, ``sw`` words a row) scaled to w × h at (x0, y0), nearest
  // pixel, clipped to the canvas
  if (x0 >= 0 && y0 >= 0 && x0 + w <= W && y0 + h <= H) {  // whole on the canvas: most pictures
    for (let k = 0, d = y0 * W + x0; k < h; k++, d += W) {
      const s = at + ymap[k] * sw;
      for (let j = 0; j < w; j++) words[d + j] = src[s + xmap[j]];
    }
    return;
  }
  const ja = Math.max(0, -x0), jb = Math.min(w, W - x0), ka = Math.max(0, -y0), kb = Math.min(h, H - y0);
  for (let k = ka; k < kb; k++) {
    const d = (y0 + k) * W + x0, s = at + ymap[k] * sw;
    for (let j = ja; j < jb; j++) words[d + j] = src[s + xmap[j]];
  }
}

function frameRect(words, W, H, x0, y0, w, h, t, colour) {
  const xa = Math.max(0, x0), xb = Math.min(W, x0 + w), ya = Math.max(0, y0), yb = Math.min(H, y0 + h);
  for (let y = ya; y < yb; y++) {
    const row = y * W;
    if (y < y0 + t || y >= y0 + h - t) { for (let x = xa; x < xb; x++) words[row + x] = colour; continue; }
    for (let x = xa; x < Math.min(xb, x0 + t); x++) words[row + x] = colour;
    for (let x = Math.max(xa, x0 + w - t); x < xb; x++) words[row + x] = colour;
  }
}

function mark(i, colour, w, h, r) {
  // the hovered or selected trailer: a ring around its picture (or its dot)
  if (i < 0) return;
  const [sx, sy] = screen(i);
  ctx.strokeStyle = colour;
  ctx.lineWidth = 2;
  ctx.beginPath();
  if (state.atlas && state.map.tiles[i] >= 0) ctx.rect(sx - w / 2 - 2, sy - h / 2 - 2, w + 4, h + 4);
  else ctx.arc(sx, sy, r + 4, 0, 2 * Math.PI);
  ctx.stroke();
}

function drawRegions(size) {
  // zoomed out, each region of the map is named by its dominant genres, above its trailers (``size``: the
  // height of a picture or dot), the largest regions first
  const regions = state.map.regions || [];
  if (state.view.scale >= REGION_ZOOM || regions.length < 2) return 0;
  const f = state.fit, { scale, dx, dy } = state.view;
  ctx.font = "600 13px system-ui, sans-serif";
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  const taken = [];
  for (const g of [...regions].sort((p, q) => q.n - p.n)) {
    const x = (f.ox + f.s * (g.x - f.x0)) * scale + dx, y = (f.oy + f.s * (f.y1 - g.top)) * scale + dy - size / 2 - 12;
    const text = g.genres.join(" · ");
    const w = ctx.measureText(text).width + 12, h = 20;
    const box = [x - w / 2, y - h / 2, w, h];
    if (box[0] < 0 || box[1] < 0 || box[0] + w > state.cssW || box[1] + h > state.cssH) continue;
    if (taken.some((b) => b[0] < box[0] + w && box[0] < b[0] + b[2] && b[1] < box[1] + h && box[1] < b[1] + b[3])) continue;
    taken.push(box);
    ctx.fillStyle = "#000000b0";
    ctx.fillRect(...box);
    ctx.fillStyle = "#fff";
    ctx.fillText(text, x, y + 1);
  }
  return taken.length;
}

// ---------------------------------------------------------------- the minimap
function drawMinimap() {
  // the whole map small, with the outline of the view; shown while the view does not hold all of it
  const v = state.view;
  const whole = v.scale <= 1 && v.dx >= -1 && v.dy >= -1 &&
    state.cssW * v.scale + v.dx <= state.cssW + 1 && state.cssH * v.scale + v.dy <= state.cssH + 1;
  mini.hidden = whole;
  if (whole) return;
  const m = MINI_W / state.cssW, w = MINI_W, h = Math.max(1, Math.round(state.cssH * m));
  if (!state.miniImage || mini.width !== w || mini.height !== h) {
    mini.width = w; mini.height = h;
    state.miniImage = miniPoints(w, h, m);
  }
  const g = mini.getContext("2d");
  g.putImageData(state.miniImage, 0, 0);
  g.strokeStyle = "#ffeb3b";
  g.lineWidth = 1.5;
  g.strokeRect((-v.dx / v.scale) * m, (-v.dy / v.scale) * m, (state.cssW / v.scale) * m, (state.cssH / v.scale) * m);
}

function miniPoints(w, h, m) {
  const img = new ImageData(w, h);
  const words = new Uint32Array(img.data.buffer);
  words.fill(packColour("#111216"));
  const dim = packColour(DIM), none = packColour(NO_GENRE);
  for (let i = 0; i < state.map.count; i++) {
    const x = Math.round(state.base[2 * i] * m), y = Math.round(state.base[2 * i + 1] * m);
    if (x < 0 || y < 0 || x >= w || y >= h) continue;
    words[y * w + x] = !state.matched[i] ? dim : state.primary[i] < 0 ? none : state.packed[state.primary[i]];
  }
  return img;
}

function miniGo(e) {
  // a click (or drag) on the minimap centres the view there
  const m = MINI_W / state.cssW, v = state.view;
  v.dx = state.cssW / 2 - (e.offsetX / m) * v.scale;
  v.dy = state.cssH / 2 - (e.offsetY / m) * v.scale;
  draw();
}

mini.addEventListener("mousedown", (e) => { miniGo(e); e.preventDefault(); });
mini.addEventListener("mousemove", (e) => { if (e.buttons & 1) miniGo(e); });

// ---------------------------------------------------------------- zoom controls
$("zoom-in").addEventListener("click", () => zoomAt(state.cssW / 2, state.cssH / 2, 1.6));
$("zoom-out").addEventListener("click", () => zoomAt(state.cssW / 2, state.cssH / 2, 1 / 1.6));
$("zoom-fit").addEventListener("click", zoomToFit);
canvas.addEventListener("wheel", (e) => {
  e.preventDefault();
  zoomAt(e.offsetX, e.offsetY, Math.exp(-e.deltaY * 0.0015));
}, { passive: false });
window.addEventListener("keydown", (e) => {
  if (e.target.closest("input, select, textarea") || e.ctrlKey || e.metaKey || e.altKey || !state.map) return;
  const keys = { f: zoomToFit, F: zoomToFit, 0: zoomToFit, Home: zoomToFit,
    "+": () => zoomAt(state.cssW / 2, state.cssH / 2, 1.6), "=": () => zoomAt(state.cssW / 2, state.cssH / 2, 1.6),
    "-": () => zoomAt(state.cssW / 2, state.cssH / 2, 1 / 1.6) };
  if (keys[e.key]) { keys[e.key](); e.preventDefault(); }
});
