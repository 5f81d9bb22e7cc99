// mmx explorer: the map of every trailer (map.js draws it: pictures from the run's atlas, dots without), filters,
// and a detail panel with the trailer's scenes, similar scenes of other trailers, playback and label review;
// health badges (`mmx check`'s findings) on trailers, a filter by kind, and badges that open the label review.
"use strict";

async function getJSON(url, options = {}) {
  if (options.method === "POST" && state.csrf) {  // a write with the session cookie repeats its CSRF token
    options.headers = { ...(options.headers || {}), "X-CSRF-Token": state.csrf };
  }
  const r = await fetch(url, options);
  const body = await r.json();
  if (r.status === 401 && !url.startsWith("/api/login")) showLogin(typeof body.detail === "string" ? body.detail : "");
  if (!r.ok) throw new Error(typeof body.detail === "string" ? body.detail : (body.detail || []).map((d) => d.msg).join("; ") || r.statusText);
  return body;
}

// ---------------------------------------------------------------- login (servers with accounts)
function showLogin(message) {
  $("login").hidden = false;
  $("login-error").textContent = message || "";
  $("login-token").focus();
}

function showUser(session) {
  state.csrf = session.csrf;
  $("who").hidden = $("logout").hidden = !session.user;
  $("who").textContent = session.user ? `${session.user.name} (${session.user.role})` : "";
}

async function login(event) {
  event.preventDefault();
  try {
    const session = await getJSON("/api/login", {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ token: $("login-token").value.trim() }),
    });
    $("login-token").value = "";
    $("login").hidden = true;
    showUser(session);
    if (!state.health) await init();
  } catch (err) {
    $("login-error").textContent = String(err.message || err);
  }
}

async function logout() {
  await getJSON("/api/logout", { method: "POST" });
  location.reload();
}

// ---------------------------------------------------------------- loading
function showNotice(health) {
  // what this run cannot show, and the label decisions its network has not learnt from
  const since = health.since_training || {};
  const lines = (health.notes || []).concat(since.decisions
    ? [`${since.decisions} decision${since.decisions > 1 ? "s" : ""} since this run trained — retrain with ${since.retrain}`] : []);
  $("notice").hidden = !lines.length;
  $("notice").textContent = lines.join(" ");
}

async function init() {
  const session = await getJSON("/api/session");
  showUser(session);
  if (session.accounts && !session.user) { showLogin(""); return; }
  const health = await getJSON("/api/health");
  state.health = health;
  showNotice(health);
  if (health.spaces.length > 1) buildSpaceSwitch(health.spaces);
  await loadMap(health.spaces[0]);
  loadFindings();
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
  state.packed = state.colours.map(packColour);
  state.genreCounts = map.genres.map(() => 0);
  for (const l of map.labels) for (const g of l) state.genreCounts[g]++;
  colourKeys();
  state.index = new Map(map.ids.map((id, i) => [id, i]));
  state.lowerTitles = map.titles.map((t, i) => (t + " " + map.ids[i]).toLowerCase());
  canvas.dataset.count = String(map.count);
  canvas.dataset.space = space;
  fillGenreSelect(map.genres);
  state.view = { scale: 1, dx: 0, dy: 0 };
  loadAtlas(map.atlas, map.tiles);
  resize();
  applyFilters();
  $("status").hidden = true;
  paint();  // the first frame now, not at the next animation frame
  canvas.dataset.firstPaint = performance.now().toFixed(1);  // ms since navigation (bench/explorer.py)
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
  state.miniImage = null;
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

function pick(mx, my) {
  // the nearest matching trailer whose picture (or dot, within 8 px) is under the pointer (a linear scan:
  // 100,000 trailers take about a millisecond)
  let best = -1, bestD = Infinity;
  const n = state.map ? state.map.count : 0;
  const { scale, dx, dy } = state.view;
  const base = state.base, tiles = state.map ? state.map.tiles : [];
  const hw = state.atlas && n ? pictureWidth() / 2 : 0, hh = state.atlas ? hw / state.atlas.aspect : 0;
  for (let i = 0; i < n; i++) {
    if (!state.matched[i]) continue;
    const ex = base[2 * i] * scale + dx - mx, ey = base[2 * i + 1] * scale + dy - my;
    const d = ex * ex + ey * ey;
    const under = state.atlas && tiles[i] >= 0 ? Math.abs(ex) <= hw && Math.abs(ey) <= hh : d < 64;
    if (under && d < bestD) { bestD = d; best = i; }
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
  const kind = $("health-kind").value;
  const n = state.map.count;
  const matched = new Uint8Array(n);
  let shown = 0;
  for (let i = 0; i < n; i++) {
    const year = state.map.years[i];
    let ok = !q || state.lowerTitles[i].includes(q);
    if (ok && g >= 0) ok = state.map.labels[i].includes(g);
    if (ok && !isNaN(from)) ok = year != null && year >= from;
    if (ok && !isNaN(to)) ok = year != null && year <= to;
    if (ok && kind) ok = badgesOf(state.map.ids[i], kind).length > 0;
    matched[i] = ok ? 1 : 0;
    shown += matched[i];
  }
  state.matched = matched;
  state.shown = shown;
  state.miniImage = null;
  canvas.dataset.shown = String(shown);
  $("shown").textContent = `${shown.toLocaleString()} of ${n.toLocaleString()} trailers`;
  showResults(q);
  showFlagged(kind);
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
  const flags = badgesOf(li.dataset.id).slice(0, 2).map((b) => `<span class="badge-mini">⚑ ${escapeHtml(b.text)}</span>`).join("");
  li.innerHTML = `${escapeHtml(state.map.titles[i] || state.map.ids[i])}${year} ${extra}${flags}<br><small>${escapeHtml(genres)}</small>`;
  li.addEventListener("click", () => { $("results").hidden = true; openTrailer(li.dataset.id); });
  return li;
}

// ---------------------------------------------------------------- the panel
async function openTrailer(id, sceneClip = null, badge = null) {
  const i = state.index.get(id);
  state.selected = i === undefined ? -1 : i;
  draw();
  const panel = $("panel");
  panel.hidden = false;
  panel.dataset.id = id;
  requestAnimationFrame(() => { resize(); if (state.selected >= 0) centreOn(state.selected); });  // the panel took room
  $("p-title").textContent = "loading…";
  $("p-review-focus").textContent = "";
  try {
    const q = encodeURIComponent(id);
    const [d, s, review] = await Promise.all([
      getJSON(`/api/trailers/${q}`),
      getJSON(`/api/search?id=${q}&k=10&space=${encodeURIComponent(state.space)}`),
      getJSON(`/api/reviews?id=${q}`),
    ]);
    if (panel.dataset.id !== id) return;  // another trailer was opened meanwhile
    state.detail = d;
    state.review = review;
    renderPanel(d, s.results);
    if (sceneClip !== null) selectScene(sceneClip);
    if (badge) focusReview(badge);
  } catch (err) {
    $("p-title").textContent = String(err.message || err);
  }
}

function renderPanel(d, hits) {
  $("p-title").textContent = d.title || d.trailer_id;
  $("p-meta").textContent = `${d.trailer_id}${d.year != null ? " · " + d.year : ""}`;
  $("p-source").textContent = `(${d.source}, threshold ${d.threshold})`;
  const probs = Object.entries(d.probabilities).sort((a, b) => b[1] - a[1]).slice(0, 10);
  $("p-probs").innerHTML = probs.map(([g, p]) =>
    `<div class="bar${d.genres.includes(g) ? " given" : ""}"><b>${escapeHtml(g)}</b>` +
    `<div style="width:${Math.round(p * 200)}px"></div>${p.toFixed(2)}</div>`).join("");
  renderReview();
  renderHealth(d.trailer_id);
  renderPlayer(d);
  renderScenes(d);
  renderTimeline(d);
  const list = $("neighbours");
  list.innerHTML = "";
  for (const h of hits) {
    const i = state.index.get(h.trailer_id);
    if (i === undefined) continue;
    list.append(trailerItem(i, `<small>${h.score.toFixed(3)}</small>`));
  }
}

// ---------------------------------------------------------------- label review
function renderReview() {
  const d = state.detail, review = state.review;
  const labels = review.labels;
  const decided = new Map(review.decisions.filter((x) => x.decision === "accept" || x.decision === "reject")
    .map((x) => [x.genre, x.decision]));
  const last = review.decisions[review.decisions.length - 1];
  $("p-review-note").textContent = review.decisions.length
    ? `(reviewed: ${review.decisions.length} decision${review.decisions.length > 1 ? "s" : ""}` +
      (last.user ? `, last by ${last.user}` : "") + ")" : "";
  $("p-conflicts").textContent = Object.entries(review.conflicts || {}).map(([g, ds]) =>
    `reviewers disagree on ${g}: ` + ds.map((x) => `${x.user || "nobody"} ${x.labels.includes(g) ? "kept" : "left out"} it`)
      .join(", ") + " (the latest decision counts)").join("; ");
  const chips = $("p-genres");
  chips.innerHTML = "";
  for (const g of labels) {
    const span = document.createElement("span");
    span.className = d.genres.includes(g) ? "" : "added";
    span.dataset.genre = g;
    span.innerHTML = `${escapeHtml(g)} <button class="x" title="remove ${escapeHtml(g)}" aria-label="remove ${escapeHtml(g)}">×</button>`;
    span.querySelector("button").addEventListener("click", () => decide(g, "remove"));
    chips.append(span);
  }
  if (!labels.length) chips.innerHTML = "<em>no labels</em>";
  const sel = $("p-add-genre");
  sel.length = 0;
  for (const g of d.vocabulary) if (!labels.includes(g)) sel.add(new Option(g, g));
  $("p-add").disabled = sel.length === 0;
  const box = $("p-suggest");
  box.innerHTML = "";
  const suggestions = d.suggested_add.map((g) => [g, "add"]).concat(d.suggested_drop.map((g) => [g, "drop"]));
  if (!suggestions.length) { box.innerHTML = "<em>labels agree</em>"; return; }
  for (const [g, kind] of suggestions) {
    const row = document.createElement("div");
    row.className = `suggestion ${kind}`;
    row.dataset.genre = g;
    const verdict = decided.get(g);
    row.innerHTML = `<span>${kind === "add" ? "+" : "−"} ${escapeHtml(g)}</span>` + (verdict
      ? `<em class="verdict">${verdict === "accept" ? "accepted" : "rejected"}</em>`
      : `<button class="accept" type="button">accept</button><button class="reject" type="button">reject</button>`);
    if (!verdict) {
      row.querySelector(".accept").addEventListener("click", () => decide(g, "accept"));
      row.querySelector(".reject").addEventListener("click", () => decide(g, "reject"));
    }
    box.append(row);
  }
}

async function decide(genre, decision) {
  const id = state.detail.trailer_id;
  try {
    const review = await getJSON("/api/reviews", {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ trailer_id: id, genre, decision }),
    });
    if ($("panel").dataset.id !== id) return;
    state.review = review;
    renderReview();
    loadFindings();  // the decision marks its badge reviewed now, and the check runs again on the new labels
    showNotice(await getJSON("/api/health"));  // one more decision the network has not seen
  } catch (err) {
    $("p-review-note").textContent = String(err.message || err);
  }
}

// ---------------------------------------------------------------- scenes
function renderPlayer(d) {
  const box = $("p-player-box"), player = $("player");
  box.hidden = !d.video;
  if (!d.video) { player.removeAttribute("src"); player.load(); return; }
  if (player.dataset.src !== d.video) { player.dataset.src = d.video; player.src = d.video; genreTrack(player, d); }
}

// the scene timeline as captions while the trailer plays: GET /api/timeline.vtt (one cue per scene, its top genres)
function genreTrack(player, d) {
  for (const old of player.querySelectorAll("track")) old.remove();
  const timed = (d.timeline || []).length && d.timeline[0].start != null;
  if (!timed) return;
  const track = document.createElement("track");
  Object.assign(track, { kind: "captions", label: "genres", srclang: "en", default: true,
    src: `/api/timeline.vtt?id=${encodeURIComponent(d.trailer_id)}` });
  player.append(track);
  track.track.mode = "showing";
}

function renderScenes(d) {
  const strip = $("p-scenes");
  strip.innerHTML = "";
  $("p-similar-box").hidden = true;
  const scenes = d.scenes || [];
  const note = $("p-scenes-note");
  note.textContent = d.scenes_note || "";
  $("p-scenes-box").hidden = d.scenes == null;  // imported embeddings: no scenes (the banner says why)
  const vocab = d.vocabulary;
  const timeline = d.timeline || [];
  for (const s of scenes) {
    const item = document.createElement("div");
    item.className = "scene";
    item.dataset.clip = String(s.clip);
    const probs = timeline[s.clip] ? timeline[s.clip].probabilities : null;
    let bars = "";
    if (probs) {
      const top = probs.map((p, j) => [p, j]).sort((a, b) => b[0] - a[0]).slice(0, 3);
      bars = top.map(([p, j]) => {
        const colour = PALETTE[Math.max(0, state.map.genres.indexOf(vocab[j])) % PALETTE.length];
        return `<i title="${escapeHtml(vocab[j])} ${p.toFixed(2)}" style="height:${Math.max(1, Math.round(p * 24))}px;background:${colour}"></i>`;
      }).join("");
    }
    const time = s.start != null ? `${s.start.toFixed(1)} s` : `#${s.clip + 1}`;
    item.innerHTML = `<div class="probs">${bars}</div>` +
      (s.keyframe ? `<img src="${s.keyframe}" alt="scene ${s.clip + 1}" loading="lazy">` : `<div class="placeholder">no picture</div>`) +
      `<small>${time}</small>`;
    item.title = probs ? vocab.map((g, j) => [g, probs[j]]).sort((a, b) => b[1] - a[1]).slice(0, 3)
      .map(([g, p]) => `${g} ${p.toFixed(2)}`).join(", ") : "";
    item.addEventListener("click", () => selectScene(s.clip));
    strip.append(item);
  }
}

async function selectScene(clip) {
  const d = state.detail;
  const scene = (d.scenes || []).find((s) => s.clip === clip);
  if (!scene) return;
  for (const el of $("p-scenes").children) el.classList.toggle("selected", el.dataset.clip === String(clip));
  const player = $("player");
  if (d.video && scene.start != null) seek(player, scene.start);
  const box = $("p-similar-box"), list = $("similar-scenes");
  box.hidden = false;
  list.innerHTML = "<li><em>searching…</em></li>";
  $("p-similar-of").textContent = `(scene ${clip + 1}${scene.start != null ? `, ${scene.start.toFixed(1)}–${scene.end.toFixed(1)} s` : ""})`;
  try {
    const q = `id=${encodeURIComponent(d.trailer_id)}&clip=${clip}&k=8&other_trailers=true`;
    const found = await getJSON(`/api/scenes?${q}`);
    if (state.detail !== d) return;
    list.innerHTML = "";
    for (const h of found.results) {
      const li = document.createElement("li");
      li.dataset.id = h.trailer_id;
      li.dataset.clip = String(h.clip);
      const time = h.start != null ? `${h.start.toFixed(1)}–${h.end.toFixed(1)} s` : `scene ${h.clip + 1}`;
      li.innerHTML = (h.keyframe ? `<img src="${h.keyframe}" alt="">` : `<div class="placeholder">no picture</div>`) +
        `<span>${escapeHtml(h.title || h.trailer_id)}<br><small>${time} · ${h.score.toFixed(3)}</small></span>`;
      li.addEventListener("click", () => openTrailer(h.trailer_id, h.clip));
      list.append(li);
    }
    if (!found.results.length) list.innerHTML = "<li><em>no other trailer has scenes</em></li>";
  } catch (err) {
    list.innerHTML = `<li><em>${escapeHtml(err.message || err)}</em></li>`;
  }
}

function seek(player, seconds) {
  const go = () => { player.currentTime = seconds; player.play().catch(() => {}); };
  if (player.readyState >= 1) go();
  else player.addEventListener("loadedmetadata", go, { once: true });
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

// ---------------------------------------------------------------- health (mmx check)
const KIND_NAMES = { duplicate: "possible duplicates", label: "labels to review", broken: "broken experts" };
const CHECKING = { computing: "checking the collection…", stale: "checking again…", ready: "" };

async function loadFindings() {
  // the check runs in the server's background: ask again until its findings are of the run as it is now
  clearTimeout(state.findingsTimer);
  let f;
  try {
    f = await getJSON("/api/findings/badges");
  } catch (err) {
    $("health-status").textContent = `health check: ${err.message || err}`;
    return;
  }
  state.findings = f;
  $("health-status").textContent = f.status === "failed" ? `health check failed: ${f.error}` : CHECKING[f.status];
  if (f.checked) fillHealthSelect(f.kinds);  // once a check has finished: its counts per kind
  if ($("health-kind").value) applyFilters();  // the map and the list of flagged trailers follow the new badges
  if (state.detail && $("panel").dataset.id === state.detail.trailer_id) renderHealth(state.detail.trailer_id);
  if (f.status === "computing" || f.status === "stale") state.findingsTimer = setTimeout(loadFindings, 3000);
}

function fillHealthSelect(kinds) {
  const sel = $("health-kind");
  const current = sel.value;
  sel.length = 1;
  for (const [k, n] of Object.entries(kinds)) sel.add(new Option(`${KIND_NAMES[k] || k} (${n})`, k));
  sel.value = current;
}

function badgesOf(id, kind = null) {
  // the trailer's badges still to look at (a label badge turns reviewed with a decision on its genre)
  const all = (state.findings && state.findings.trailers[id]) || [];
  return all.filter((b) => !b.reviewed && (!kind || b.kind === kind));
}

function badgeButton(id, b, onClick) {
  const el = document.createElement("button");
  el.type = "button";
  el.className = `badge ${b.kind}${b.reviewed ? " reviewed" : ""}`;
  el.textContent = b.text + (b.reviewed ? " ✓" : "");
  el.title = b.reviewed ? "reviewed" : b.action;
  el.dataset.id = id;
  el.dataset.kind = b.kind;
  el.addEventListener("click", (e) => { e.stopPropagation(); onClick(); });
  return el;
}

function showFlagged(kind) {
  // the trailers with findings of `kind` among those the filters show, most certain first; a badge opens its review
  const box = $("flagged");
  box.hidden = !kind;
  if (!kind) return;
  const rows = [];
  for (let i = 0; i < state.map.count; i++) {
    if (!state.matched[i]) continue;
    const badges = badgesOf(state.map.ids[i], kind);
    rows.push([Math.max(...badges.map((b) => b.score)), i, badges]);
  }
  rows.sort((a, b) => b[0] - a[0]);
  $("flagged-title").textContent = `${KIND_NAMES[kind]}: ${rows.length} trailer${rows.length === 1 ? "" : "s"}` +
    (rows.length > 100 ? " (first 100)" : "");
  $("flagged-notes").innerHTML = (state.findings.collection || []).filter((f) => kind === "label" && f.check === "labels")
    .map((f) => `<li>${escapeHtml(f.action)}${f.evidence.trailers ? ` (${f.evidence.trailers} trailers)` : ""}</li>`).join("");
  const list = $("flagged-list");
  list.innerHTML = "";
  for (const [, i, badges] of rows.slice(0, 100)) {
    const id = state.map.ids[i];
    const li = document.createElement("li");
    li.dataset.id = id;
    const year = state.map.years[i] != null ? ` (${state.map.years[i]})` : "";
    li.innerHTML = `<span>${escapeHtml(state.map.titles[i] || id)}${year}</span><br>`;
    li.querySelector("span").addEventListener("click", () => openTrailer(id));
    for (const b of badges) li.append(badgeButton(id, b, () => openTrailer(id, null, b)));
    list.append(li);
  }
}

function renderHealth(id) {
  // the open trailer's badges: a duplicate opens the other trailer, the rest point at the label review
  const all = (state.findings && state.findings.trailers[id]) || [];
  $("p-health-box").hidden = all.length === 0;
  const box = $("p-health");
  box.innerHTML = "";
  for (const b of all) {
    box.append(badgeButton(id, b, () => (b.kind === "duplicate" && b.other ? openTrailer(b.other) : focusReview(b))));
  }
}

function focusReview(b) {
  // the label review of the open trailer, with the finding's genre marked: a given one to remove, a missing one to add
  $("p-review").scrollIntoView({ block: "start" });
  $("p-review-focus").textContent = `${b.text}: ${b.action}`;
  for (const chip of $("p-genres").children) chip.classList.toggle("flag", !!b.genre && chip.dataset.genre === b.genre);
  const add = $("p-add-genre");
  if (b.genre && [...add.options].some((o) => o.value === b.genre)) add.value = b.genre;
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
  const flags = badgesOf(state.map.ids[i]).map((b) => `<br>⚑ ${escapeHtml(b.text)}`).join("");
  tip.innerHTML = `<b>${escapeHtml(state.map.titles[i] || state.map.ids[i])}</b>${year}<br>${escapeHtml(genres || "no labels")}${flags}`;
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

$("search").addEventListener("input", applyFilters);
$("genre").addEventListener("change", applyFilters);
$("colour-by").addEventListener("change", () => { colourKeys(); draw(); });
$("year-from").addEventListener("input", applyFilters);
$("year-to").addEventListener("input", applyFilters);
$("health-kind").addEventListener("change", applyFilters);
$("p-add").addEventListener("click", () => { const g = $("p-add-genre").value; if (g) decide(g, "add"); });
$("close").addEventListener("click", () => { $("panel").hidden = true; state.selected = -1; requestAnimationFrame(resize); });
window.addEventListener("resize", resize);

$("login-form").addEventListener("submit", login);
$("logout").addEventListener("click", logout);
init().catch((err) => { $("status").textContent = `cannot load the collection: ${err.message || err}`; });
