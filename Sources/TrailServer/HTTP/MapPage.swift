/// The trail map (issue 15): one page, served from the binary at `/` behind
/// the listener's token, that draws a namespace's strongest notes as a graph
/// (plain SVG and a small force layout of its own: nodes sized by weight,
/// trails by their weight), fades the weights as they decay, follows the
/// namespace live through `/api/events`, draws contested notes (contract
/// §8: a red dashed line between two notes that disagree, a dashed ring on
/// each), searches by words (and by meaning when the model is there), and
/// shows a note's details, history and the notes contesting it on a click.
/// No third-party code; it works with no network.
enum MapPage {
    static let html = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>trail map</title>
<style>
  :root { color-scheme: light dark; --ink: #1d2433; --muted: #6b7280; --line: #9ca3af; --live: #2f7d4f; --hit: #c2410c; --contest: #b91c1c; --bg: #fbfaf7; --panel: #ffffff; }
  @media (prefers-color-scheme: dark) { :root { --ink: #e5e7eb; --muted: #9ca3af; --line: #4b5563; --live: #5fbf86; --hit: #fb923c; --contest: #f87171; --bg: #111318; --panel: #1a1d24; } }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.4 system-ui, sans-serif; color: var(--ink); background: var(--bg); display: grid; grid-template-columns: 1fr 340px; grid-template-rows: auto 1fr; height: 100vh; }
  header { grid-column: 1 / 3; display: flex; gap: 12px; align-items: center; padding: 8px 12px; border-bottom: 1px solid var(--line); }
  header h1 { font-size: 16px; margin: 0 8px 0 0; }
  header .status { margin-left: auto; color: var(--muted); }
  select, input, button { font: inherit; padding: 4px 8px; }
  input[type=search] { width: 260px; }
  #graph { width: 100%; height: 100%; display: block; }
  #graph line { stroke: var(--line); stroke-linecap: round; }
  #graph circle { fill: var(--live); stroke: var(--bg); stroke-width: 1.5; cursor: pointer; }
  #graph circle.hit { fill: var(--hit); }
  #graph circle.chosen { stroke: var(--ink); stroke-width: 3; }
  #graph circle.contested { stroke: var(--contest); stroke-width: 3; stroke-dasharray: 3 2; }
  #graph line.contest { stroke: var(--contest); stroke-dasharray: 6 4; stroke-width: 2; }
  #graph text { font-size: 11px; fill: var(--muted); pointer-events: none; }
  aside { border-left: 1px solid var(--line); padding: 12px; overflow: auto; background: var(--panel); }
  aside h2 { font-size: 14px; margin: 0 0 8px; }
  aside .body { white-space: pre-wrap; margin: 8px 0; }
  aside .meta, aside li { color: var(--muted); font-size: 12px; }
  aside ol { padding-left: 18px; }
  .results li { cursor: pointer; margin-bottom: 4px; }
  .contested-by h3 { font-size: 13px; margin: 12px 0 4px; color: var(--contest); }
  .contested-by li { cursor: pointer; color: var(--ink); font-size: 13px; margin-bottom: 6px; }
</style>
</head>
<body>
<header>
  <h1>trail map</h1>
  <label>namespace <select id="ns"></select></label>
  <form id="search"><input id="q" type="search" placeholder="search words"><select id="mode"><option value="q">words</option></select> <button>search</button></form>
  <span class="status" id="status">loading…</span>
</header>
<svg id="graph" role="img" aria-label="the namespace's strongest notes and their trails"></svg>
<aside id="details"><h2>Select a note</h2><p class="meta">Circles are notes, sized by their weight as it decays; lines are trails, as thick as their weight; a red dashed line joins two notes that contest each other (close in meaning, disagreeing on a number, a name or a negation). Click a note for its body, history and the notes contesting it.</p><ul class="results" id="results"></ul></aside>
<script>
"use strict";
const token = new URLSearchParams(location.search).get("token") || "";
const svg = document.getElementById("graph");
const NS = "http://www.w3.org/2000/svg";
const state = { ns: "default", halfLife: 604800, nodes: new Map(), edges: new Map(), contests: new Map(), chosen: null, events: null,
                fetchedAt: Date.now(), contestTimer: null };

async function api(path, params) {
  const url = new URL(path, location.href);
  for (const [k, v] of Object.entries(params || {})) url.searchParams.set(k, v);
  url.searchParams.set("token", token);
  const r = await fetch(url);
  const body = await r.json();
  if (!r.ok) throw new Error(body.error ? body.error.message : r.statusText);
  return body;
}

function status(text) { document.getElementById("status").textContent = text; }

// A note's weight now, from the weight it had when read: w · 2^(-Δt/h).
function weightNow(node) { return node.weight * Math.pow(2, -((Date.now() - node.at) / 1000) / state.halfLife); }
function radius(node) { return 4 + 10 * Math.sqrt(Math.max(0, weightNow(node))); }

function upsertNode(note) {
  let node = state.nodes.get(note.id);
  if (!node) {
    const w = svg.clientWidth || 800, h = svg.clientHeight || 600;
    node = { id: note.id, x: w / 2 + (Math.random() - 0.5) * 200, y: h / 2 + (Math.random() - 0.5) * 200, vx: 0, vy: 0 };
    node.circle = document.createElementNS(NS, "circle");
    node.circle.dataset.id = note.id;
    node.circle.addEventListener("click", () => choose(note.id));
    node.title = document.createElementNS(NS, "title");
    node.circle.appendChild(node.title);
    node.label = document.createElementNS(NS, "text");
    svg.appendChild(node.circle);
    svg.appendChild(node.label);
    state.nodes.set(note.id, node);
  }
  node.weight = note.weight; node.at = Date.now(); node.body = note.body;
  if (note.contested_by !== undefined || !node.contestedBy) node.contestedBy = note.contested_by || [];
  node.circle.classList.toggle("contested", node.contestedBy.length > 0);
  node.title.textContent = note.body;
  node.label.textContent = note.body.length > 28 ? note.body.slice(0, 27) + "…" : note.body;
  return node;
}

function removeNode(id) {
  const node = state.nodes.get(id);
  if (!node) return;
  node.circle.remove(); node.label.remove();
  state.nodes.delete(id);
  for (const [key, edge] of state.edges) if (edge.from === id || edge.to === id) { edge.line.remove(); state.edges.delete(key); }
  for (const [key, c] of state.contests) if (c.a === id || c.b === id) { c.line.remove(); state.contests.delete(key); }
}

// The contests between the notes drawn, as /api/graph gives them: each pair once.
function setContests(pairs) {
  const wanted = new Set();
  for (const p of pairs) {
    if (!state.nodes.has(p.a) || !state.nodes.has(p.b)) continue;
    const key = p.a + "~" + p.b;
    wanted.add(key);
    if (state.contests.has(key)) continue;
    const line = document.createElementNS(NS, "line");
    line.classList.add("contest");
    line.dataset.a = p.a; line.dataset.b = p.b;
    svg.insertBefore(line, svg.firstChild);
    state.contests.set(key, { a: p.a, b: p.b, line });
  }
  for (const [key, c] of state.contests) if (!wanted.has(key)) { c.line.remove(); state.contests.delete(key); }
}

// Contests are found when a note is embedded, after the write's event: read
// again a second after the last event.
function refreshContestsSoon() {
  clearTimeout(state.contestTimer);
  const ns = state.ns;
  state.contestTimer = setTimeout(async () => {
    try {
      const graph = await api("/api/graph", { ns, limit: 80 });
      if (ns !== state.ns) return;
      for (const note of graph.notes) if (state.nodes.has(note.id)) upsertNode(note);
      setContests(graph.contests || []);
    } catch (e) { status(e.message); }
  }, 1000);
}

function upsertEdge(from, to, weight) {
  if (!state.nodes.has(from) || !state.nodes.has(to)) return;
  const key = from + ">" + to;
  let edge = state.edges.get(key);
  if (!edge) {
    edge = { from, to, line: document.createElementNS(NS, "line") };
    svg.insertBefore(edge.line, svg.firstChild);
    state.edges.set(key, edge);
  }
  edge.weight = weight;
  edge.line.setAttribute("stroke-width", String(1 + 3 * Math.min(1, Math.sqrt(Math.max(0, weight)) / 2)));
}

async function load(ns) {
  state.ns = ns;
  if (state.events) state.events.close();
  for (const id of [...state.nodes.keys()]) removeNode(id);
  const spaces = await api("/api/namespaces");
  const settings = spaces.namespaces.find(n => n.ns === ns);
  state.halfLife = settings ? settings.half_life_s : 604800;
  const graph = await api("/api/graph", { ns, limit: 80 });
  for (const note of graph.notes) upsertNode(note);
  for (const t of graph.trails) upsertEdge(t.from, t.to, t.weight);
  setContests(graph.contests || []);
  status(graph.notes.length + " notes, " + graph.trails.length + " trails" +
         (state.contests.size ? ", " + state.contests.size + " contested" : "") + " in " + ns);
  document.body.dataset.loaded = ns;
  const events = new EventSource("/api/events?ns=" + encodeURIComponent(ns) + "&token=" + encodeURIComponent(token));
  events.addEventListener("trail", message => {
    const e = JSON.parse(message.data);
    if (e.event === "retracted" || e.event === "evaporated") removeNode(e.note.id);
    else upsertNode(e.note);
    if (e.trail) upsertEdge(e.trail.from, e.trail.to, e.trail.weight);
    refreshContestsSoon();
    status(e.event + ": " + e.note.body.slice(0, 40) + " — " + state.nodes.size + " notes in " + ns);
  });
  state.events = events;
}

async function choose(id) {
  for (const node of state.nodes.values()) node.circle.classList.toggle("chosen", node.id === id);
  const d = await api("/api/note", { ns: state.ns, id });
  const panel = document.getElementById("details");
  panel.replaceChildren();
  const h = document.createElement("h2"); h.textContent = "Note " + d.note.id.slice(0, 12);
  const body = document.createElement("div"); body.className = "body"; body.textContent = d.note.body;
  const meta = document.createElement("p"); meta.className = "meta";
  meta.textContent = "weight " + d.note.weight.toFixed(3) + " · " + d.note.state + " · deposited " + d.note.deposits + "× · tags " + (d.note.tags.join(", ") || "none");
  const hist = document.createElement("ol");
  for (const entry of d.history || []) {
    const li = document.createElement("li");
    li.textContent = entry.at + " " + entry.op + (entry.agent ? " by " + entry.agent : "") + (entry.detail ? " — " + entry.detail : "");
    hist.appendChild(li);
  }
  panel.append(h, body, meta, hist);
  if (d.note.contested_by && d.note.contested_by.length) {
    const box = document.createElement("div"); box.className = "contested-by";
    const title = document.createElement("h3"); title.textContent = "Contested by " + d.note.contested_by.length;
    const advice = document.createElement("p"); advice.className = "meta";
    advice.textContent = "These notes are close in meaning and disagree. Try the advice, then reinforce the note that held and repel (or retract, with a reason) the one that misled.";
    const list = document.createElement("ul");
    for (const other of d.note.contested_by) {
      const li = document.createElement("li"); li.dataset.id = other;
      li.textContent = other.slice(0, 12);
      li.addEventListener("click", () => choose(other));
      list.appendChild(li);
      api("/api/note", { ns: state.ns, id: other }).then(o => { li.textContent = o.note.body + " (weight " + o.note.weight.toFixed(3) + ")"; }).catch(() => {});
    }
    box.append(title, advice, list);
    panel.appendChild(box);
  }
  panel.dataset.note = d.note.id;
}

document.getElementById("search").addEventListener("submit", async event => {
  event.preventDefault();
  const text = document.getElementById("q").value.trim();
  if (!text) return;
  const mode = document.getElementById("mode").value;
  try {
    const found = await api("/api/search", { ns: state.ns, [mode]: text, limit: 20 });
    const ids = new Set(found.notes.map(n => n.id));
    for (const node of state.nodes.values()) node.circle.classList.toggle("hit", ids.has(node.id));
    const list = document.createElement("ul"); list.className = "results"; list.id = "results";
    for (const n of found.notes) {
      const li = document.createElement("li"); li.textContent = n.body; li.addEventListener("click", () => choose(n.id));
      list.appendChild(li);
    }
    document.getElementById("details").replaceChildren(Object.assign(document.createElement("h2"), { textContent: found.notes.length + " found" }), list);
  } catch (e) { status(e.message); }
});

// The force layout: nodes repel, trails pull, everything drifts to the middle.
function tick() {
  const nodes = [...state.nodes.values()];
  const w = svg.clientWidth || 800, h = svg.clientHeight || 600;
  for (let i = 0; i < nodes.length; i++) {
    const a = nodes[i];
    a.vx += (w / 2 - a.x) * 0.002; a.vy += (h / 2 - a.y) * 0.002;
    for (let j = i + 1; j < nodes.length; j++) {
      const b = nodes[j];
      let dx = a.x - b.x, dy = a.y - b.y, d2 = dx * dx + dy * dy + 0.01;
      const f = Math.min(4, 900 / d2), d = Math.sqrt(d2);
      dx /= d; dy /= d;
      a.vx += dx * f; a.vy += dy * f; b.vx -= dx * f; b.vy -= dy * f;
    }
  }
  for (const edge of state.edges.values()) {
    const a = state.nodes.get(edge.from), b = state.nodes.get(edge.to);
    const dx = b.x - a.x, dy = b.y - a.y, d = Math.sqrt(dx * dx + dy * dy) + 0.01, pull = (d - 90) * 0.01;
    a.vx += dx / d * pull; a.vy += dy / d * pull; b.vx -= dx / d * pull; b.vy -= dy / d * pull;
  }
  // Contested notes are pulled a little together, so that the dashed line stays short enough to read.
  for (const c of state.contests.values()) {
    const a = state.nodes.get(c.a), b = state.nodes.get(c.b);
    const dx = b.x - a.x, dy = b.y - a.y, d = Math.sqrt(dx * dx + dy * dy) + 0.01, pull = (d - 120) * 0.005;
    a.vx += dx / d * pull; a.vy += dy / d * pull; b.vx -= dx / d * pull; b.vy -= dy / d * pull;
  }
  for (const n of nodes) {
    n.vx *= 0.85; n.vy *= 0.85; n.x = Math.max(20, Math.min(w - 20, n.x + n.vx)); n.y = Math.max(20, Math.min(h - 20, n.y + n.vy));
    const r = radius(n);
    n.circle.setAttribute("cx", n.x.toFixed(1)); n.circle.setAttribute("cy", n.y.toFixed(1)); n.circle.setAttribute("r", r.toFixed(2));
    n.circle.style.opacity = String(Math.max(0.25, Math.min(1, 0.3 + weightNow(n))));
    n.label.setAttribute("x", (n.x + r + 3).toFixed(1)); n.label.setAttribute("y", (n.y + 4).toFixed(1));
  }
  for (const edge of state.edges.values()) {
    const a = state.nodes.get(edge.from), b = state.nodes.get(edge.to);
    edge.line.setAttribute("x1", a.x.toFixed(1)); edge.line.setAttribute("y1", a.y.toFixed(1));
    edge.line.setAttribute("x2", b.x.toFixed(1)); edge.line.setAttribute("y2", b.y.toFixed(1));
  }
  for (const c of state.contests.values()) {
    const a = state.nodes.get(c.a), b = state.nodes.get(c.b);
    c.line.setAttribute("x1", a.x.toFixed(1)); c.line.setAttribute("y1", a.y.toFixed(1));
    c.line.setAttribute("x2", b.x.toFixed(1)); c.line.setAttribute("y2", b.y.toFixed(1));
  }
  requestAnimationFrame(tick);
}

(async () => {
  try {
    const spaces = await api("/api/namespaces");
    const picker = document.getElementById("ns");
    for (const n of spaces.namespaces) picker.appendChild(Object.assign(document.createElement("option"), { value: n.ns, textContent: n.ns + " (" + n.live + ")" }));
    if (spaces.semantic) document.getElementById("mode").appendChild(Object.assign(document.createElement("option"), { value: "similar", textContent: "meaning" }));
    const wanted = new URLSearchParams(location.search).get("ns") || (spaces.namespaces[0] || {}).ns || "default";
    picker.value = wanted;
    picker.addEventListener("change", () => load(picker.value));
    await load(wanted);
    requestAnimationFrame(tick);
  } catch (e) { status(e.message); }
})();
</script>
</body>
</html>
"""#
}
