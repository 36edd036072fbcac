// The raft-ts live page: polls /api/status for each node's state and follows
// /api/events for what happens between polls (messages, votes, elections). No
// libraries; everything is drawn into one SVG and a few tables.
'use strict';

const SVG = 'http://www.w3.org/2000/svg';
const CENTER = 260;
const RADIUS = 185;
const NODE_R = 42;
const TIMER_R = 50;
const LOG_CELLS = 24;
const MESSAGE_MS = 350;
const MESSAGES_MAX = 300;

/** http address → { http, up, status (last known), error } */
const nodes = new Map();
/** node id → ms timestamp of the last message heard from its leader */
const lastHeard = new Map();
const messages = [];
const timeline = [];
const electedTerms = new Set();

function el(name, attrs, parent) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (parent) parent.appendChild(node);
  return node;
}

function termColour(term) {
  return `hsl(${(term * 67) % 360}, 55%, 45%)`;
}

/** Known nodes in id order; a node never seen up has no id and sorts last. */
function ordered() {
  return [...nodes.values()].sort((a, b) => (a.status?.id ?? 1e9) - (b.status?.id ?? 1e9) || a.http.localeCompare(b.http));
}

function position(id) {
  const list = ordered();
  const i = Math.max(0, list.findIndex((n) => n.status?.id === id));
  const angle = -Math.PI / 2 + (2 * Math.PI * i) / Math.max(1, list.length);
  return { x: CENTER + RADIUS * Math.cos(angle), y: CENTER + RADIUS * Math.sin(angle) };
}

function currentLeader() {
  let best;
  for (const n of nodes.values()) {
    if (n.up && n.status.role === 'leader' && (best === undefined || n.status.term > best.status.term)) best = n;
  }
  return best;
}

async function poll() {
  try {
    const res = await fetch('/api/status', { cache: 'no-store' });
    const rows = await res.json();
    const now = Date.now();
    for (const row of rows) {
      const known = nodes.get(row.http) ?? { http: row.http };
      known.up = row.up;
      if (row.up) {
        known.status = row.status;
        known.error = undefined;
        if (row.status.role !== 'leader') {
          const heard = now - row.status.electionElapsed * row.status.tickMs;
          if (heard > (lastHeard.get(row.status.id) ?? 0)) lastHeard.set(row.status.id, heard);
        }
        if (row.status.role === 'leader' && !electedTerms.has(row.status.term)) addElection(row.status.term, row.status.id, now);
      } else {
        known.error = row.error;
      }
      nodes.set(row.http, known);
    }
    render();
  } catch {
    document.getElementById('summary').textContent = 'dashboard server unreachable';
  }
}

function addElection(term, leader, ts) {
  if (electedTerms.has(term)) return;
  electedTerms.add(term);
  timeline.push({ term, leader, ts });
  timeline.sort((a, b) => b.term - a.term);
  if (timeline.length > 50) timeline.length = 50;
}

function send(from, to, colour, r) {
  if (messages.length >= MESSAGES_MAX) messages.shift();
  messages.push({ from, to, colour, r, start: performance.now() });
}

function onEvent(event) {
  const n = nodes.get(event.http);
  if (event.type === 'node-down' || event.type === 'node-up') {
    if (n) n.up = event.type === 'node-up';
    void poll();
    return;
  }
  switch (event.type) {
    case 'traffic':
      if (event.direction === 'sent') {
        if (event.appends > 0) send(event.node, event.peer, event.entries > 0 ? '#8e44ad' : '#b07cc6', event.entries > 0 ? 6 : 4);
        else if (event.heartbeats > 0) send(event.node, event.peer, '#5cb85c', 4);
        else if (event.responses > 0) send(event.node, event.peer, '#aaaaaa', 3);
      } else if (event.heartbeats + event.appends > 0) {
        lastHeard.set(event.node, event.ts);
      }
      break;
    case 'vote-requested':
      send(event.node, event.to, '#d9534f', event.pre ? 4 : 6);
      break;
    case 'vote-granted':
      send(event.node, event.candidate, '#2e8b57', 5);
      break;
    case 'vote-refused':
      send(event.node, event.candidate, '#555555', 5);
      break;
    case 'leader-elected':
      addElection(event.term, event.leader, event.ts);
      void poll();
      break;
    case 'role':
    case 'term':
    case 'stop':
      void poll();
      break;
    default:
      break;
  }
}

function render() {
  const list = ordered();
  const leader = currentLeader();
  const up = list.filter((n) => n.up).length;
  const summary = document.getElementById('summary');
  summary.textContent = leader ? `leader: node ${leader.status.id} · term ${leader.status.term} · ${up}/${list.length} nodes up` : `no leader · ${up}/${list.length} nodes up`;
  summary.dataset.leader = leader ? String(leader.status.id) : '';
  summary.dataset.term = leader ? String(leader.status.term) : '';
  renderRing(list);
  renderTable(list, leader);
  renderLogs(list);
  renderTimeline();
}

function renderRing(list) {
  const links = document.getElementById('links');
  const group = document.getElementById('nodes');
  links.replaceChildren();
  group.replaceChildren();
  const placed = list.filter((n) => n.status);
  for (let i = 0; i < placed.length; i += 1) {
    for (let j = i + 1; j < placed.length; j += 1) {
      const a = position(placed[i].status.id);
      const b = position(placed[j].status.id);
      el('line', { x1: a.x, y1: a.y, x2: b.x, y2: b.y }, links);
    }
  }
  for (const n of placed) {
    const s = n.status;
    const p = position(s.id);
    const g = el('g', { class: 'node', 'data-id': s.id, 'data-role': n.up ? s.role : 'down', 'data-up': n.up, 'data-term': s.term, transform: `translate(${p.x},${p.y})` }, group);
    el('circle', { class: 'timer', r: TIMER_R, 'data-id': s.id, transform: 'rotate(-90)' }, g);
    el('circle', { class: 'body', r: NODE_R }, g);
    el('text', { class: 'id', y: -6 }, g).textContent = String(s.id);
    el('text', { class: 'detail', y: 12 }, g).textContent = n.up ? `term ${s.term}` : 'down';
    el('text', { class: 'detail', y: 26 }, g).textContent = n.up ? (s.vote ? `vote ${s.vote}` : 'no vote') : `was term ${s.term}`;
    el('text', { class: 'label', y: NODE_R + 24 }, g).textContent = n.up ? s.role : 'down';
    if (n.up && s.role === 'leader') el('text', { class: 'crown', y: -NODE_R - 8 }, g).textContent = '★';
  }
}

/** Table rows by http address: updated in place, so a click is never lost to a re-render. */
const tableRows = new Map();
const COLUMNS = ['id', 'role', 'term', 'vote', 'commit', 'applied', 'lag', 'pid'];

function tableRow(http) {
  let row = tableRows.get(http);
  if (row) return row;
  const tr = document.createElement('tr');
  const cells = COLUMNS.map((name) => {
    const td = document.createElement('td');
    td.className = name;
    tr.appendChild(td);
    return td;
  });
  const td = document.createElement('td');
  const button = document.createElement('button');
  button.className = 'kill';
  button.textContent = 'kill';
  button.addEventListener('click', () => kill(Number(button.dataset.id)));
  td.appendChild(button);
  tr.appendChild(td);
  row = { tr, cells, button };
  tableRows.set(http, row);
  return row;
}

function renderTable(list, leader) {
  const body = document.querySelector('#nodes-table tbody');
  const progress = new Map((leader?.status.peers ?? []).map((p) => [p.id, p]));
  list.forEach((n, i) => {
    const s = n.status;
    const row = tableRow(n.http);
    if (body.children[i] !== row.tr) body.insertBefore(row.tr, body.children[i] ?? null);
    row.tr.dataset.id = s ? String(s.id) : '';
    row.tr.dataset.up = String(n.up);
    const lag = !s || !leader ? '' : s.id === leader.status.id ? '-' : progress.has(s.id) ? String(leader.status.lastIndex - progress.get(s.id).match) : '';
    const values = s
      ? [s.id, n.up ? s.role : 'down', s.term, s.vote || '-', s.commit, s.applied, lag, s.pid]
      : ['?', `down (${n.error ?? 'never answered'})`, '', '', '', '', '', ''];
    values.forEach((value, j) => {
      const text = String(value);
      if (row.cells[j].textContent !== text) row.cells[j].textContent = text;
    });
    row.button.hidden = !(s && n.up);
    if (s) {
      row.button.dataset.id = String(s.id);
      row.button.title = `SIGKILL pid ${s.pid}`;
    }
  });
}

function renderLogs(list) {
  const logs = document.getElementById('logs');
  logs.replaceChildren();
  const last = Math.max(0, ...list.filter((n) => n.status).map((n) => n.status.lastIndex));
  const first = Math.max(1, last - LOG_CELLS + 1);
  for (const n of list) {
    if (!n.status) continue;
    const s = n.status;
    const row = document.createElement('div');
    row.className = n.up ? 'row' : 'row down';
    row.dataset.id = String(s.id);
    const who = document.createElement('span');
    who.className = 'who';
    who.textContent = `node ${s.id}`;
    row.appendChild(who);
    for (let index = first; index <= last; index += 1) {
      const cell = document.createElement('span');
      const term = s.log.terms[index - s.log.first];
      cell.className = 'cell';
      if (term === undefined) {
        cell.style.background = 'transparent';
      } else {
        cell.style.background = termColour(term);
        cell.textContent = String(term);
        cell.title = `index ${index}, term ${term}`;
        if (index > s.commit) cell.classList.add('uncommitted');
      }
      if (index === s.commit) cell.classList.add('commit');
      if (index === s.applied) cell.classList.add('applied');
      row.appendChild(cell);
    }
    logs.appendChild(row);
  }
}

function renderTimeline() {
  const list = document.getElementById('timeline');
  list.replaceChildren();
  for (const item of timeline) {
    const li = document.createElement('li');
    li.dataset.term = String(item.term);
    li.textContent = `${new Date(item.ts).toLocaleTimeString()} · term ${item.term}: node ${item.leader} elected`;
    list.appendChild(li);
  }
}

/** Moves message dots and drains the election-timer rings, every frame. */
function frame() {
  const now = performance.now();
  const layer = document.getElementById('messages');
  layer.replaceChildren();
  for (let i = messages.length - 1; i >= 0; i -= 1) {
    const m = messages[i];
    const t = (now - m.start) / MESSAGE_MS;
    if (t >= 1) {
      messages.splice(i, 1);
      continue;
    }
    const a = position(m.from);
    const b = position(m.to);
    el('circle', { cx: a.x + (b.x - a.x) * t, cy: a.y + (b.y - a.y) * t, r: m.r, fill: m.colour }, layer);
  }
  const wall = Date.now();
  const circumference = 2 * Math.PI * TIMER_R;
  for (const n of nodes.values()) {
    if (!n.status) continue;
    const ring = document.querySelector(`#nodes .timer[data-id="${n.status.id}"]`);
    if (!ring) continue;
    let fraction = 0;
    if (n.up && n.status.role === 'leader') fraction = 1;
    else if (n.up) {
      const timeout = n.status.electionTicks * n.status.tickMs;
      fraction = Math.max(0, 1 - (wall - (lastHeard.get(n.status.id) ?? wall)) / timeout);
    }
    ring.setAttribute('stroke-dasharray', `${circumference * fraction} ${circumference}`);
  }
  requestAnimationFrame(frame);
}

async function kill(id) {
  const res = await fetch('/api/kill', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id }) });
  const body = await res.json();
  document.getElementById('put-result').textContent = res.ok ? `killed node ${id} (pid ${body.pid})` : body.error;
  void poll();
}

document.getElementById('put-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const key = document.getElementById('put-key').value;
  const value = document.getElementById('put-value').value;
  const result = document.getElementById('put-result');
  result.textContent = 'putting…';
  const res = await fetch('/api/put', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key, value }) });
  const body = await res.json();
  result.textContent = res.ok ? `put ${key}=${value}` : `failed: ${body.error}`;
  result.dataset.done = String(Date.now());
  void poll();
});

const events = new EventSource('/api/events');
events.onmessage = (message) => onEvent(JSON.parse(message.data));
void poll();
setInterval(poll, 300);
requestAnimationFrame(frame);
