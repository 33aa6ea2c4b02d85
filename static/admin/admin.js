// The cometplay admin console. It is a Comet client of the server it watches:
// it joins with cometplay.js, asks /admin/api/watch to subscribe its session to
// the reserved subject /admin/stats, and receives the server's figures there
// every second. Charts are drawn on canvases; nothing is loaded from elsewhere.
//
// For tests, each chart's canvas carries data-chart (its key), data-points (how
// many figures it holds) and data-last (the latest values, JSON); body carries
// data-state (the connection state); rooms are rows tr[data-room][data-state].

import { CometClient } from '/js/cometplay.js';

const SUBJECT = '/admin/stats';
const KEEP = 120; // points per chart: two minutes at one a second

const $ = (id) => document.getElementById(id);

// --- reading a snapshot -------------------------------------------------

function matches(labels, want) {
	for (const [k, v] of Object.entries(want || {})) if (!labels || labels[k] !== v) return false;
	return true;
}

// sum of the samples of a counter or gauge family whose labels include want.
function sum(snap, name, want) {
	let s = null;
	for (const x of (snap && snap.m[name]) || []) {
		if (matches(x.l, want)) s = (s || 0) + x.v;
	}
	return s;
}

// rate per second of a counter between two snapshots (null on the first).
function rate(cur, prev, name, want) {
	if (!prev) return null;
	const a = sum(cur, name, want), b = sum(prev, name, want);
	const dt = (cur.t - prev.t) / 1000;
	if (a === null || b === null || dt <= 0) return null;
	return Math.max(0, (a - b) / dt); // a restart resets counters
}

// quantile q of a histogram family over the interval between two snapshots,
// all label sets added up, interpolated within a bucket as Prometheus's
// histogram_quantile does. null when nothing was observed meanwhile.
function quantile(cur, prev, name, q) {
	if (!prev) return null;
	const agg = (snap) => {
		const byLe = new Map();
		let count = 0;
		for (const h of snap.h[name] || []) {
			count += h.c;
			for (const [le, n] of h.b) byLe.set(le, (byLe.get(le) || 0) + n);
		}
		return { byLe, count };
	};
	const a = agg(cur), b = agg(prev);
	const total = a.count - b.count;
	if (total <= 0) return null;
	const les = [...a.byLe.keys()].sort((x, y) => x - y);
	const rank = q * total;
	let lower = 0, below = 0;
	for (const le of les) {
		const n = a.byLe.get(le) - (b.byLe.get(le) || 0);
		if (n >= rank) {
			const inBucket = n - below;
			return inBucket > 0 ? lower + (le - lower) * (rank - below) / inBucket : le;
		}
		lower = le;
		below = n;
	}
	return lower; // in the +Inf bucket: the highest finite bound
}

// --- formatting ----------------------------------------------------------

function num(v) {
	if (v === null || v === undefined || Number.isNaN(v)) return '–';
	const a = Math.abs(v);
	if (a >= 1e9) return (v / 1e9).toFixed(1) + 'G';
	if (a >= 1e6) return (v / 1e6).toFixed(1) + 'M';
	if (a >= 1e4) return (v / 1e3).toFixed(1) + 'k';
	if (a >= 100 || Number.isInteger(v)) return String(Math.round(v));
	return v.toFixed(a >= 10 ? 1 : 2);
}

function bytes(v) {
	if (v === null || v === undefined) return '–';
	const units = ['B', 'KiB', 'MiB', 'GiB'];
	let i = 0;
	while (Math.abs(v) >= 1024 && i < units.length - 1) { v /= 1024; i++; }
	return (i === 0 ? Math.round(v) : v.toFixed(1)) + ' ' + units[i];
}

function seconds(v) {
	if (v === null || v === undefined) return '–';
	if (v >= 1) return v.toFixed(2) + ' s';
	if (v >= 1e-3) return (v * 1e3).toFixed(v >= 0.1 ? 0 : 1) + ' ms';
	return (v * 1e6).toFixed(0) + ' µs';
}

// --- charts ----------------------------------------------------------------

const COLORS = ['#1d4ed8', '#b42318', '#146c34', '#8a5300', '#6d28d9'];

const CHARTS = [
	{ key: 'connections', title: 'Connections open', series: [
		{ name: 'open', f: (c) => sum(c, 'cometplay_connections_open') }] },
	{ key: 'requests', title: 'Requests / s', series: [
		{ name: 'responses', f: (c, p) => rate(c, p, 'cometplay_http_requests_total') }] },
	{ key: 'traffic', title: 'Traffic / s', fmt: bytes, series: [
		{ name: 'in', f: (c, p) => rate(c, p, 'cometplay_http_received_bytes_total') },
		{ name: 'out', f: (c, p) => rate(c, p, 'cometplay_http_sent_bytes_total') }] },
	{ key: 'sessions', title: 'Comet sessions', series: [
		{ name: 'sessions', f: (c) => sum(c, 'cometplay_comet_sessions') },
		{ name: 'streams', f: (c) => sum(c, 'cometplay_comet_listeners', { mode: 'stream' }) },
		{ name: 'parked polls', f: (c) => sum(c, 'cometplay_comet_listeners', { mode: 'pull' }) }] },
	{ key: 'events', title: 'Events / s', series: [
		{ name: 'published', f: (c, p) => rate(c, p, 'cometplay_comet_events_published_total') },
		{ name: 'delivered', f: (c, p) => rate(c, p, 'cometplay_comet_events_delivered_total') }] },
	{ key: 'handler', title: 'Handler latency', fmt: seconds, series: [
		{ name: 'p50', f: (c, p) => quantile(c, p, 'cometplay_http_handler_duration_seconds', 0.5) },
		{ name: 'p99', f: (c, p) => quantile(c, p, 'cometplay_http_handler_duration_seconds', 0.99) }] },
	{ key: 'fanout', title: 'Fan-out latency', fmt: seconds, series: [
		{ name: 'p50', f: (c, p) => quantile(c, p, 'cometplay_comet_fanout_duration_seconds', 0.5) },
		{ name: 'p99', f: (c, p) => quantile(c, p, 'cometplay_comet_fanout_duration_seconds', 0.99) }] },
	{ key: 'rooms', title: 'Rooms', series: [
		{ name: 'waiting', f: (c) => sum(c, 'cometplay_rooms', { state: 'waiting' }) },
		{ name: 'playing', f: (c) => sum(c, 'cometplay_rooms', { state: 'playing' }) },
		{ name: 'finished', f: (c) => sum(c, 'cometplay_rooms', { state: 'finished' }) }] },
	{ key: 'games', title: 'Games (total)', series: [
		{ name: 'started', f: (c) => sum(c, 'cometplay_games_started_total') },
		{ name: 'finished', f: (c) => sum(c, 'cometplay_games_finished_total') }] },
	{ key: 'moves', title: 'Moves / s', series: [
		{ name: 'applied', f: (c, p) => rate(c, p, 'cometplay_moves_total') },
		{ name: 'refused', f: (c, p) => rate(c, p, 'cometplay_moves_rejected_total') }] },
	{ key: 'backlog', title: 'Backlogs', series: [
		{ name: 'room mailboxes', f: (c) => sum(c, 'cometplay_rooms_mailbox_items') },
		{ name: 'rooms queued', f: (c) => sum(c, 'cometplay_rooms_run_queue_length') },
		{ name: 'worker queue', f: (c) => sum(c, 'cometplay_worker_queue_length') }] },
	{ key: 'goroutines', title: 'Goroutines', series: [
		{ name: 'goroutines', f: (c) => sum(c, 'go_goroutines') }] },
	{ key: 'memory', title: 'Memory', fmt: bytes, series: [
		{ name: 'heap in use', f: (c) => sum(c, 'go_memstats_heap_inuse_bytes') },
		{ name: 'resident', f: (c) => sum(c, 'process_resident_memory_bytes') }] },
	{ key: 'cpu', title: 'CPU (cores)', series: [
		{ name: 'cpu', f: (c, p) => rate(c, p, 'process_cpu_seconds_total') }] },
];

class Chart {
	constructor(def, parent) {
		this.def = def;
		this.fmt = def.fmt || num;
		this.points = []; // {t, v: [...]}
		const el = document.createElement('article');
		el.className = 'chart';
		const head = document.createElement('header');
		const h = document.createElement('h3');
		h.textContent = def.title;
		this.now = document.createElement('span');
		this.now.className = 'now';
		head.append(h, this.now);
		this.canvas = document.createElement('canvas');
		this.canvas.dataset.chart = def.key;
		this.canvas.dataset.points = '0';
		this.canvas.setAttribute('role', 'img');
		this.canvas.setAttribute('aria-label', def.title);
		const legend = document.createElement('div');
		legend.className = 'legend';
		def.series.forEach((s, i) => {
			const span = document.createElement('span');
			const key = document.createElement('i');
			key.style.background = COLORS[i % COLORS.length];
			span.append(key, document.createTextNode(s.name));
			legend.append(span);
		});
		el.append(head, this.canvas, legend);
		parent.append(el);
	}

	add(cur, prev) {
		const v = this.def.series.map((s) => s.f(cur, prev));
		this.points.push({ t: cur.t, v });
		if (this.points.length > KEEP) this.points.shift();
		this.canvas.dataset.points = String(this.points.length);
		this.canvas.dataset.last = JSON.stringify(v);
		this.now.textContent = v.map((x) => this.fmt(x)).join(' / ');
		this.draw();
	}

	draw() {
		const c = this.canvas;
		const dpr = window.devicePixelRatio || 1;
		const w = c.clientWidth || 280, h = c.clientHeight || 90;
		if (c.width !== Math.round(w * dpr) || c.height !== Math.round(h * dpr)) {
			c.width = Math.round(w * dpr);
			c.height = Math.round(h * dpr);
		}
		const g = c.getContext('2d');
		g.setTransform(dpr, 0, 0, dpr, 0, 0);
		g.clearRect(0, 0, w, h);
		let top = 0;
		for (const p of this.points) for (const x of p.v) if (x !== null && x > top) top = x;
		top = top > 0 ? top * 1.15 : 1;
		const pad = 14;
		g.strokeStyle = '#d5dae4';
		g.lineWidth = 1;
		g.beginPath();
		g.moveTo(0, h - 0.5);
		g.lineTo(w, h - 0.5);
		g.moveTo(0, pad + 0.5);
		g.lineTo(w, pad + 0.5);
		g.stroke();
		g.fillStyle = '#4f5869';
		g.font = '11px system-ui, sans-serif';
		g.fillText(this.fmt(top / 1.15), 2, 11);
		const last = this.points.length ? this.points[this.points.length - 1].t : 0;
		const span = KEEP * 1000;
		const x = (t) => w - ((last - t) / span) * w;
		const y = (v) => h - 1 - (v / top) * (h - pad - 1);
		this.def.series.forEach((_, i) => {
			g.strokeStyle = COLORS[i % COLORS.length];
			g.lineWidth = 1.75;
			g.beginPath();
			let pen = false;
			for (const p of this.points) {
				const v = p.v[i];
				if (v === null) { pen = false; continue; }
				if (pen) g.lineTo(x(p.t), y(v));
				else g.moveTo(x(p.t), y(v));
				pen = true;
			}
			g.stroke();
		});
	}
}

// --- tables ----------------------------------------------------------------

function cell(tr, text, cls) {
	const td = document.createElement('td');
	td.textContent = text;
	if (cls) td.className = cls;
	tr.append(td);
	return td;
}

function fillTable(id, rows) {
	const body = $(id).tBodies[0];
	body.replaceChildren(...rows.map((cols) => {
		const tr = document.createElement('tr');
		for (const [text, cls] of cols) cell(tr, text, cls);
		return tr;
	}));
}

function renderTables(cur, prev) {
	const routes = (cur.m.cometplay_http_requests_total || []).slice()
		.sort((a, b) => b.v - a.v);
	fillTable('routes', routes.map((x) => [[x.l.route], [x.l.code], [num(x.v), 'num'],
		[num(rate(cur, prev, 'cometplay_http_requests_total', { route: x.l.route, code: x.l.code })), 'num']]));
	const byLabel = (name, label) => (cur.m[name] || []).slice().sort((a, b) => b.v - a.v || a.l[label].localeCompare(b.l[label]))
		.map((x) => [[x.l[label]], [num(x.v), 'num']]);
	fillTable('rejects', byLabel('cometplay_moves_rejected_total', 'reason'));
	fillTable('ended', byLabel('cometplay_comet_sessions_ended_total', 'reason'));
	const totals = [
		['connections accepted', 'cometplay_connections_accepted_total'],
		['connections refused at the cap', 'cometplay_connections_refused_total'],
		['connection cap', 'cometplay_connections_max'],
		['slow readers closed', 'cometplay_connections_slow_closed_total'],
		['bad requests', 'cometplay_http_bad_requests_total'],
		['header timeouts', 'cometplay_http_header_timeouts_total'],
		['503 busy (worker queue)', 'cometplay_http_overloaded_total'],
		['handler panics', 'cometplay_http_handler_panics_total'],
		['sessions started', 'cometplay_comet_sessions_started_total'],
		['gaps', 'cometplay_comet_gaps_total'],
		['heartbeats', 'cometplay_comet_heartbeats_total'],
		['nacks', 'cometplay_comet_nacks_total'],
		['rooms created', 'cometplay_rooms_created_total'],
		['rooms disposed', 'cometplay_rooms_disposed_total'],
		['room mailboxes full', 'cometplay_rooms_mailbox_full_total'],
		['room hook panics', 'cometplay_rooms_hook_panics_total'],
		['executors busy / all', null],
		['lobby players online', 'cometplay_lobby_players_online'],
	];
	fillTable('totals', totals.filter(([, n]) => n === null || cur.m[n]).map(([label, n]) => {
		const v = n ? num(sum(cur, n)) : num(sum(cur, 'cometplay_rooms_executors_busy')) + ' / ' + num(sum(cur, 'cometplay_rooms_executors'));
		return [[label], [v, 'num']];
	}));
	renderCluster(cur, prev);
}

// renderCluster shows a cluster node's figures (docs/CLUSTER.md), when
// the server is one.
function renderCluster(cur, prev) {
	const on = !!cur.m.cometplay_cluster_peers;
	$('cluster-card').hidden = !on;
	if (!on) return;
	const rows = [
		['other nodes heard of', 'cometplay_cluster_peers'],
		['NATS routes', 'cometplay_cluster_nats_routes'],
		['NATS round trip (ms)', 'cometplay_cluster_nats_rtt_seconds', null, 1000],
		['relays open', 'cometplay_cluster_relays_open'],
		['requests relayed home', 'cometplay_cluster_relays_total', { direction: 'out' }],
		['requests served for other nodes', 'cometplay_cluster_relays_total', { direction: 'in' }],
		['relays to a node not there', 'cometplay_cluster_relays_no_home_total'],
		['publishes sent to other nodes', 'cometplay_cluster_publishes_total', { direction: 'out' }],
		['room and lobby publishes forwarded', 'cometplay_cluster_claims_total', { direction: 'out' }],
		['forwarded publishes handled here', 'cometplay_cluster_claims_total', { direction: 'in' }],
		['events pushed to other nodes', 'cometplay_cluster_pushes_total', { direction: 'out' }],
		['NATS messages sent to other nodes', 'cometplay_cluster_messages_total', { kind: 'sent' }],
		['… more joined into them', 'cometplay_cluster_messages_total', { kind: 'joined' }],
		['lease held (1: yes)', 'cometplay_cluster_lease'],
		['leases lost', 'cometplay_cluster_leases_lost_total'],
		['rooms taken over (owner changes)', 'cometplay_cluster_owner_changes_total'],
		['rooms evicted', 'cometplay_cluster_rooms_evicted_total'],
		['rooms rebuilt from their turn log', 'cometplay_cluster_rooms_restored_total'],
		['rooms taken over and lost', 'cometplay_cluster_rooms_lost_total'],
		['turn log appends', 'cometplay_cluster_turn_log_total', { kind: 'appends' }],
		['turn log appends refused (fenced)', 'cometplay_cluster_turn_log_total', { kind: 'refused' }],
		['turn log appends waiting', 'cometplay_cluster_turn_log_waiting'],
		['oldest append waiting (s)', 'cometplay_cluster_turn_log_oldest_seconds'],
		['room items refused: store unavailable', 'cometplay_cluster_room_items_refused_total'],
	];
	fillTable('cluster', rows.filter(([, n]) => cur.m[n]).map(([label, n, want, scale]) => {
		const v = sum(cur, n, want);
		const counter = n.endsWith('_total');
		return [[label], [num(v === null ? null : v * (scale || 1)), 'num'], [counter ? num(rate(cur, prev, n, want)) : '', 'num']];
	}));
}

const armed = new Set(); // rooms whose Close button was pressed once

function renderRooms(snap) {
	const body = $('rooms').tBodies[0];
	$('rooms-count').textContent = snap.rooms_total > snap.rooms.length
		? `(${snap.rooms.length} of ${snap.rooms_total} shown)` : `(${snap.rooms_total})`;
	$('rooms-empty').hidden = snap.rooms.length > 0;
	const ids = new Set(snap.rooms.map((r) => r.id));
	for (const id of armed) if (!ids.has(id)) armed.delete(id);
	body.replaceChildren(...snap.rooms.map((r) => {
		const tr = document.createElement('tr');
		tr.dataset.room = r.id;
		tr.dataset.state = r.state;
		const idCell = cell(tr, '');
		const link = document.createElement('a');
		link.href = '#sessions-title';
		link.textContent = r.id;
		link.title = 'Show its sessions';
		link.addEventListener('click', () => { $('sessions-subject').value = '/room/' + r.id; loadSessions(); });
		idCell.append(link);
		cell(tr, r.game);
		cell(tr, r.label);
		cell(tr, r.state + (r.locked ? ' (locked)' : ''), 'state-' + r.state);
		const players = cell(tr, '');
		for (const p of r.players || []) {
			const span = document.createElement('span');
			span.className = 'player' + (p.connected ? '' : ' away');
			span.textContent = p.name + (p.connected ? '' : ' (reconnecting)');
			players.append(span);
		}
		cell(tr, String(r.spectators), 'num');
		const act = cell(tr, '');
		const b = document.createElement('button');
		b.type = 'button';
		b.className = 'danger';
		b.dataset.close = r.id;
		b.textContent = armed.has(r.id) ? 'Confirm close' : 'Close';
		b.addEventListener('click', () => closeRoom(r.id));
		act.append(b);
		return tr;
	}));
}

// --- API ---------------------------------------------------------------------

async function api(path, form) {
	const init = form ? { method: 'POST', body: new URLSearchParams(form) } : {};
	const resp = await fetch(path, { credentials: 'same-origin', ...init });
	if (resp.status === 401 || resp.status === 403) {
		location.reload(); // the credential is gone: the sign-in form
		throw new Error('signed out');
	}
	const text = await resp.text();
	if (!resp.ok) throw new Error(text.trim() || resp.statusText);
	return text ? JSON.parse(text) : null;
}

function say(msg) { $('status').textContent = msg; }

async function closeRoom(id) {
	if (!armed.has(id)) {
		armed.add(id);
		const b = document.querySelector(`button[data-close="${CSS.escape(id)}"]`);
		if (b) b.textContent = 'Confirm close';
		return;
	}
	armed.delete(id);
	try {
		await api('/admin/api/rooms/close', { room: id });
		say(`Room ${id} closed.`);
	} catch (e) {
		say(`Closing room ${id}: ${e.message}`);
	}
}

async function loadSessions() {
	const subject = $('sessions-subject').value.trim();
	let res;
	try {
		res = await api('/admin/api/sessions?' + new URLSearchParams({ subject, limit: '200' }));
	} catch (e) {
		say('Sessions: ' + e.message);
		return;
	}
	$('sessions-count').textContent = `(${res.sessions.length} shown, ${res.total} live)`;
	$('sessions').tBodies[0].replaceChildren(...res.sessions.map((s) => {
		const tr = document.createElement('tr');
		tr.dataset.session = s.id;
		const id = cell(tr, '');
		const code = document.createElement('code');
		code.textContent = s.id + (s.id === client.publicId ? ' (this page)' : '');
		id.append(code);
		cell(tr, s.remote || '(server)');
		cell(tr, s.format);
		cell(tr, s.mode + (s.listening ? '' : ' (not listening)'));
		cell(tr, (s.subjects || []).join(', '));
		cell(tr, (s.idle_ms / 1000).toFixed(0) + ' s', 'num');
		const act = cell(tr, '');
		const f = document.createElement('form');
		const reason = document.createElement('input');
		reason.placeholder = 'reason';
		reason.setAttribute('aria-label', 'Reason for disconnecting ' + s.id);
		const b = document.createElement('button');
		b.className = 'danger';
		b.textContent = 'Disconnect';
		f.append(reason, b);
		f.addEventListener('submit', async (e) => {
			e.preventDefault();
			try {
				const r = await api('/admin/api/sessions/close', { session: s.id, reason: reason.value });
				say(`Session ${s.id} disconnected: ${r.reason}.`);
			} catch (err) {
				say(`Disconnecting ${s.id}: ${err.message}`);
			}
			loadSessions();
		});
		act.append(f);
		return tr;
	}));
}

// --- wiring --------------------------------------------------------------------

const charts = [];
let prev = null;

function update(snap) {
	if (prev && snap.t <= prev.t) return; // an older answer than the last push
	for (const c of charts) c.add(snap, prev);
	renderTables(snap, prev);
	renderRooms(snap);
	$('updated').textContent = 'updated ' + new Date(snap.t).toLocaleTimeString();
	prev = snap;
}

const client = new CometClient({ name: 'cometplay-admin', shared: false });
window.adminClient = client;

async function watch() {
	try {
		await api('/admin/api/watch', { session: client.publicId });
	} catch (e) {
		say('Subscribing to the figures: ' + e.message);
	}
}

function showState({ state, transport }) {
	document.body.dataset.state = state;
	$('conn-text').textContent = state + (transport ? ' · ' + transport : '');
}

function start() {
	const grid = $('charts');
	for (const def of CHARTS) charts.push(new Chart(def, grid));
	client.on('state', showState);
	client.on('session', watch); // the first session, and any new one after an expiry
	client.on('event', (ev) => {
		if (ev.p_event === 'data' && ev.p_subject === SUBJECT && ev.data) {
			try {
				update(JSON.parse(ev.data));
			} catch (e) {
				say('Bad figures: ' + e.message);
			}
		}
	});
	$('sessions-filter').addEventListener('submit', (e) => { e.preventDefault(); loadSessions(); });
	window.addEventListener('resize', () => { for (const c of charts) c.draw(); });
	api('/admin/api/stats').then(update).catch((e) => say('Figures: ' + e.message));
	client.connect().then(loadSessions);
}

start();
