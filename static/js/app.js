// app.js — the cometplay tictactoe site: one page with three views (choose
// a name, the lobby, a game), driven by the events the server pushes over
// cometplay.js.
//
// Everything the page shows comes from a model built from the session's
// events (model.js). The tabs of one player share one Comet session (one
// connection), so a tab that opens later asks another tab of the session
// for a copy of the model over a BroadcastChannel, then applies the events
// that follow it (by sequence number). The player's reconnection tokens are
// kept in localStorage (store.js), so a reload, whose new session says hello
// with the token, takes the same seat again.
//
// The lobby pushes its lists (players online, rooms) and chat only to the
// sessions of players without a seat, and to those with a tab showing the
// lobby: each tab tells it ("browse") when it starts and stops showing the
// lobby view.
//
// URL parameters: room=<id> shows that room; transport=stream|sse|long-poll|
// poll|iframe forces a transport (default: automatic).

import { CometClient, CometError } from './cometplay.js';
import { emptyModel, decode, apply, roomOf, active } from './model.js';
import * as store from './store.js';
import { LobbyView } from './lobby.js';
import { GameView } from './game.js';
import { $, el, show, setText, setData, toast, reason } from './ui.js';

const ALL_TRANSPORTS = ['stream', 'sse', 'long-poll', 'poll', 'iframe'];
// How often and how many times a new tab asks the others for the model.
const SYNC_EVERY = 500;
const SYNC_TRIES = 10;
// How long a lobby request waits for its answer event (ask).
const ASK_TIMEOUT = 15000;

const STATE_TEXT = {
	idle: 'Not connected',
	connecting: 'Connecting…',
	connected: 'Connected',
	reconnecting: 'Reconnecting…',
	closed: 'Offline',
};

function randomId() {
	const b = new Uint8Array(6);
	crypto.getRandomValues(b);
	return [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
}

/** currentRoom returns the room the URL shows, or null for the lobby. */
function currentRoom() {
	return new URLSearchParams(location.search).get('room') || null;
}

/** transportOption returns the client's transport option from ?transport=. */
function transportOption() {
	const t = new URLSearchParams(location.search).get('transport');
	if (!t || t === 'auto') return 'auto';
	if (!ALL_TRANSPORTS.includes(t)) {
		console.warn('cometplay: unknown transport ' + JSON.stringify(t) + '; using the automatic choice');
		return 'auto';
	}
	return t;
}

/** App is the page's controller. */
export class App {
	constructor() {
		this.tabId = randomId();
		this.reqN = 0;
		this.key = null; // the profile this tab shows
		this.client = null;
		this.bc = null; // BroadcastChannel of the profile's tabs
		this.model = null;
		this.synced = false; // the model is complete (not waiting for another tab's copy)
		this.buffer = []; // events received while not synced
		this.syncBase = 0;
		this.syncTimer = null;
		this.hello = 'none'; // none, sent, failed, done
		this.helloError = '';
		this.joining = null; // the room being entered or reclaimed
		this.pending = {}; // room → {move, seq, cell}: a move sent, not yet applied
		this.gapSeen = false;
		this.browsing = false; // this tab told the session's lobby that it shows it
		this.browseReq = null; // the req of the last browse sent
		this.browseAcked = null; // what the lobby acknowledged of it: true, false or null
		this.pageHidden = false;
		this.waiters = new Map(); // req → {reply, done, fail, timer}: see ask
		this.view = null;
		this.renderQueued = false;
		this.lobbyView = new LobbyView(this);
		this.gameView = new GameView(this);

		$('name-form').addEventListener('submit', (e) => {
			e.preventDefault();
			this.chooseName();
		});
		$('continue-list').addEventListener('click', (e) => {
			const b = e.target.closest('button[data-profile]');
			if (b && !this.client) this.start(b.dataset.profile);
		});
		$('home-link').addEventListener('click', (e) => {
			e.preventDefault();
			this.navigate(null);
		});
		$('gap-reload').addEventListener('click', () => location.reload());
		window.addEventListener('popstate', () => this.render());
		// Before the client's own listener (it may close the session), so
		// that "not browsing" still leaves.
		window.addEventListener('pagehide', () => {
			this.pageHidden = true;
			this.syncBrowse();
		});
		window.addEventListener('pageshow', (e) => {
			if (!e.persisted) return;
			this.pageHidden = false;
			this.render();
		});
	}

	async init() {
		let key = store.tabProfile();
		if (key && !store.get(key)) key = null;
		const room = currentRoom();
		if (!key && room) {
			// A tab opened on a room: the player of this browser seated in it.
			const live = await store.liveProfiles();
			const seated = Object.entries(store.profiles())
				.filter(([, p]) => p.seats && p.seats[room])
				.sort(([ka, a], [kb, b]) => (live.has(kb) - live.has(ka)) || (b.at - a.at));
			if (seated.length) key = seated[0][0];
		}
		if (key) {
			this.start(key);
			return;
		}
		// A returning player finds its name filled in; but while another
		// window plays as someone, a new window is more likely a second
		// player: it is offered "Continue as" instead.
		const live = await this.listLiveProfiles();
		const all = Object.entries(store.profiles()).sort(([, a], [, b]) => b.at - a.at);
		if (all.length && live.size === 0) $('name-input').value = all[0][1].name;
		this.render();
	}

	// listLiveProfiles offers the players other tabs of this browser show,
	// and returns their keys.
	async listLiveProfiles() {
		const all = store.profiles();
		const live = new Set([...await store.liveProfiles()].filter((k) => all[k]));
		const items = [...live].map((k) =>
			el('li', {}, el('button', { type: 'button', dataset: { profile: k }, text: 'Continue as ' + all[k].name })));
		$('continue-list').replaceChildren(...items);
		show($('continue'), items.length > 0);
		return live;
	}

	async chooseName() {
		const input = $('name-input');
		const name = input.value.trim().replace(/\s+/g, ' ');
		if (!name) {
			this.helloError = 'Please enter a name.';
			this.render();
			input.focus();
			return;
		}
		this.helloError = '';
		if (this.client) {
			// The session exists; its hello was refused: try this name.
			store.update(this.key, (p) => { p.name = name; });
			this.sayHello();
			return;
		}
		// The same name in this browser is the same player (and its seats).
		const live = await store.liveProfiles();
		const same = Object.entries(store.profiles()).filter(([, p]) => p.name === name)
			.sort(([ka, a], [kb, b]) => (live.has(kb) - live.has(ka)) || (b.at - a.at));
		const key = same.length ? same[0][0] : store.newKey();
		store.update(key, (p) => { p.name = name; });
		this.start(key);
	}

	// start runs the page as profile key: a client shared with the other
	// tabs of that player.
	start(key) {
		this.key = key;
		store.setTabProfile(key);
		store.update(key, () => {});
		store.holdTab(key, this.tabId);
		if (typeof BroadcastChannel === 'function') {
			this.bc = new BroadcastChannel('cometplay-app:' + key);
			this.bc.onmessage = (e) => this.onTabMessage(e.data);
		}
		const c = new CometClient({ name: 'p-' + key, transport: transportOption() });
		this.client = c;
		c.on('event', (ev) => this.onEvent(ev));
		c.on('session', (s) => this.onSession(s));
		c.on('gap', () => {
			this.gapSeen = true;
			this.render();
		});
		for (const t of ['state', 'transport', 'leader']) c.on(t, () => this.renderConn());
		c.connect().catch(() => {});
		this.render();
	}

	onSession({ publicId, previous }) {
		const keep = previous === null ? this.buffer : [];
		this.model = emptyModel(publicId);
		this.buffer = [];
		this.pending = {};
		this.gapSeen = false;
		this.browsing = false; // a new session knows nothing of this tab
		this.browseReq = null;
		this.browseAcked = null;
		this.lobbyView.resetMore();
		for (const w of [...this.waiters.values()]) w.fail(new CometError('closed', 'a new session'));
		clearTimeout(this.syncTimer);
		if (this.client.isLeader || this.client.lastSeq === 0) {
			// A new session: every event of it is still to come.
			this.synced = true;
			this.hello = 'none';
			for (const ev of keep) this.applyEvent(ev);
			if (this.client.isLeader) this.sayHello();
		} else {
			// Another tab's session, already under way: copy its model.
			this.synced = false;
			this.buffer = keep;
			this.syncBase = this.client.lastSeq;
			this.hello = 'done';
			this.requestModel();
		}
		this.render();
	}

	// sayHello introduces the session to the lobby, with the reconnection
	// token of a held seat: the lobby gives the seat back.
	sayHello() {
		const p = store.get(this.key);
		if (!p) return;
		const room = currentRoom();
		const seatRoom = room && p.seats[room] ? room : Object.keys(p.seats)[0] || null;
		const fields = { name: p.name };
		if (seatRoom) {
			fields.token = p.seats[seatRoom];
			this.joining = seatRoom;
		}
		this.hello = 'sent';
		this.lobby('hello', fields).catch((err) => {
			if (err.code === 'closed') return;
			this.helloFailed(reason(err.message));
		});
		this.render();
	}

	helloFailed(text) {
		this.hello = 'failed';
		this.helloError = text;
		this.joining = null;
		this.render();
		queueMicrotask(() => $('name-input').focus()); // once the name view shows
	}

	requestModel() {
		let tries = 0;
		const ask = () => {
			if (this.synced) return;
			if (++tries > SYNC_TRIES) {
				// No tab answered: go on with what the events tell.
				this.synced = true;
				const buf = this.buffer;
				this.buffer = [];
				for (const ev of buf) this.applyEvent(ev);
				toast('Could not copy the state of your other tab; some of it may be missing.', 'error');
				this.render();
				return;
			}
			this.bc?.postMessage({ k: 'want', from: this.tabId, session: this.model.session });
			this.syncTimer = setTimeout(ask, SYNC_EVERY);
		};
		ask();
	}

	onTabMessage(msg) {
		if (!msg || typeof msg !== 'object' || !this.model) return;
		if (msg.k === 'want' && msg.from !== this.tabId && this.synced && msg.session === this.model.session) {
			this.bc.postMessage({ k: 'model', to: msg.from, model: this.model });
			return;
		}
		if (msg.k === 'model' && msg.to === this.tabId && !this.synced && msg.model &&
			msg.model.session === this.model.session && msg.model.seq >= this.syncBase) {
			clearTimeout(this.syncTimer);
			this.model = msg.model;
			this.synced = true;
			const buf = this.buffer;
			this.buffer = [];
			for (const ev of buf) this.applyEvent(ev);
			this.render();
		}
	}

	onEvent(ev) {
		if (ev.p_event === 'abort') {
			toast('The server is restarting; reconnecting…');
			return;
		}
		if (ev.p_seq === undefined) return;
		if (!this.model || !this.synced) {
			this.buffer.push(ev);
			return;
		}
		this.applyEvent(ev);
	}

	applyEvent(ev) {
		const seq = Number(ev.p_seq);
		if (!(seq > this.model.seq)) return; // already in the model
		this.model.seq = seq;
		const e = decode(ev);
		if (!e) return;
		apply(this.model, e, Date.now());
		this.react(e);
		this.render();
	}

	// react does what an event means beyond the model: remember tokens,
	// follow this tab's requests to their room, report errors.
	react(e) {
		const d = e.data;
		const mine = typeof d.req === 'string' && d.req.startsWith(this.tabId + '.');
		const w = mine && e.subject === '/lobby' ? this.waiters.get(d.req) : undefined;
		if (w && e.type === w.reply) {
			w.done(d);
			return;
		}
		if (w && e.type === 'error') {
			w.fail(new CometError('nack', d.reason || 'refused'));
			return;
		}
		const room = roomOf(e.subject);
		if (room) {
			this.reactRoom(room, e.type, d);
			return;
		}
		if (e.subject !== '/lobby') return;
		switch (e.type) {
		case 'welcome': {
			this.hello = 'done';
			this.helloError = '';
			const url = currentRoom();
			const p = store.get(this.key);
			if (url && p && p.watching === url && this.joining !== url && !active(this.model.games[url])) {
				this.enter(url, 'spectate'); // a spectator's reload: watch again
			}
			break;
		}
		case 'matched':
		case 'created':
			if (mine) {
				this.joining = d.room;
				this.navigate(d.room);
			}
			break;
		case 'ok':
			if (d.action === 'browse' && d.req === this.browseReq) this.browseAcked = this.browsing;
			if (d.action === 'leave-room') {
				this.forget(d.room);
				if (mine && currentRoom() === d.room) this.navigate(null);
			}
			break;
		case 'error':
			if (d.action === 'hello') {
				if (!this.model.me) {
					this.helloFailed(reason(d.reason));
				} else if (this.joining) {
					// Welcomed, but the seat could not be given back.
					this.forget(this.joining);
					toast('Your seat in that game is no longer held.', 'error');
					this.joining = null;
				}
				break;
			}
			if (d.action === 'browse') break; // quietly: the next view change says it again
			if ((d.action === 'join' || d.action === 'spectate') && mine) this.joining = null;
			if (mine) toast(reason(d.reason), 'error');
			break;
		}
	}

	reactRoom(room, type, d) {
		const g = this.model.games[room];
		const p = this.pending[room];
		switch (type) {
		case 'joined':
			store.update(this.key, (pr) => {
				if (d.token) pr.seats[room] = d.token;
				pr.watching = d.seat < 0 ? room : pr.watching === room ? null : pr.watching;
			});
			if (this.joining === room) this.joining = null;
			break;
		case 'join-rejected':
			this.forget(room);
			if (this.joining === room) this.joining = null;
			if (currentRoom() !== room) toast(reason(d.reason), 'error');
			break;
		case 'closed':
		case 'kicked':
			this.forget(room);
			break;
		case 'player-left':
			if (g && g.me && d.player && d.player.id === g.me.id) this.forget(room);
			break;
		case 'error':
			if (p && d.move === p.move) {
				delete this.pending[room];
				toast(reason(d.reason), 'error');
			} else if (!d.move && currentRoom() === room) {
				toast(reason(d.reason), 'error');
			}
			break;
		}
	}

	// forget drops what the profile remembers of a room (its token).
	forget(room) {
		if (!room) return;
		store.update(this.key, (p) => {
			delete p.seats[room];
			if (p.watching === room) p.watching = null;
		});
	}

	/**
	 * lobby publishes a lobby action, with a req naming this tab (or
	 * options.req); options.keepalive lets it out of a page going away.
	 */
	lobby(action, fields = {}, options = {}) {
		const f = { action, req: options.req || this.tabId + '.' + (++this.reqN) };
		for (const [k, v] of Object.entries(fields)) {
			if (v !== undefined && v !== null && v !== '') f[k] = v;
		}
		return this.client.publish('/lobby', f, { keepalive: !!options.keepalive });
	}

	/**
	 * ask performs a lobby action whose answer is an event (reply, e.g.
	 * 'page' for 'list'), and resolves with that event's data. It rejects
	 * with the nack or the error event of the action, after ASK_TIMEOUT
	 * without an answer, or when the session changes.
	 */
	ask(action, fields, reply) {
		const req = this.tabId + '.' + (++this.reqN);
		return new Promise((resolve, reject) => {
			const end = () => {
				clearTimeout(w.timer);
				this.waiters.delete(req);
			};
			const w = {
				reply,
				done: (d) => { end(); resolve(d); },
				fail: (err) => { end(); reject(err); },
				timer: setTimeout(() => w.fail(new CometError('network', 'the lobby did not answer')), ASK_TIMEOUT),
			};
			this.waiters.set(req, w);
			this.lobby(action, fields, { req }).catch((err) => w.fail(err));
		});
	}

	/**
	 * syncBrowse tells the session's lobby whether this tab shows the lobby
	 * view, when that changed. A session whose player holds a seat hears the
	 * lobby's lists and chat only while one of its tabs does.
	 */
	syncBrowse() {
		if (!this.client || !this.model || !this.synced || !this.model.me) return; // no hello done yet
		const on = this.view === 'lobby' && !this.pageHidden;
		if (on === this.browsing) return;
		this.browsing = on;
		this.browseReq = this.tabId + '.' + (++this.reqN);
		this.lobby('browse', { on: on ? '1' : '0', tab: this.tabId }, { req: this.browseReq, keepalive: this.pageHidden }).catch(() => {});
	}

	/** enter joins (how 'join') or watches (how 'spectate') a room and shows it. */
	enter(room, how) {
		if (!room) return;
		this.joining = room;
		this.navigate(room);
		this.lobby(how, { room }).catch((err) => {
			if (this.joining === room) this.joining = null;
			toast(reason(err.message), 'error');
			this.render();
		});
	}

	/** leaveRoom leaves a room (a game in progress is forfeited) and shows the lobby. */
	leaveRoom(room) {
		this.lobby('leave-room', { room }).then(() => {
			this.forget(room);
			if (currentRoom() === room) this.navigate(null);
		}, (err) => toast(reason(err.message), 'error'));
	}

	/** move sends the player's move to cell. */
	move(room, cell) {
		const g = this.model.games[room];
		const seq = g.seq + 1;
		const id = this.tabId + '.' + (++this.reqN);
		this.pending[room] = { move: id, seq, cell };
		this.render();
		this.client.publish('/room/' + room, { type: 'move', data: JSON.stringify({ cell }), move: id, seq }).catch((err) => {
			if (this.pending[room] && this.pending[room].move === id) delete this.pending[room];
			toast(reason(err.message), 'error');
			this.render();
		});
	}

	/** pendingMove returns the move sent in room and not yet applied, or null. */
	pendingMove(room) {
		const p = this.pending[room];
		const g = this.model && this.model.games[room];
		if (p && (!g || g.seq >= p.seq || g.state !== 'playing')) {
			delete this.pending[room];
			return null;
		}
		return p || null;
	}

	rematch(room) {
		this.client.publish('/room/' + room, { type: 'rematch' }).catch((err) => toast(reason(err.message), 'error'));
	}

	/** navigate shows a room (or the lobby for null), keeping the other URL parameters. */
	navigate(room) {
		const url = new URL(location.href);
		if (room) url.searchParams.set('room', room);
		else url.searchParams.delete('room');
		if (url.href !== location.href) history.pushState(null, '', url);
		this.render();
	}

	currentView() {
		if (!this.client || this.hello === 'failed') return 'name';
		if (!this.model || !this.synced || !this.model.me) return 'loading';
		return currentRoom() ? 'game' : 'lobby';
	}

	/** render schedules a render after the events being delivered now. */
	render() {
		if (this.renderQueued) return;
		this.renderQueued = true;
		queueMicrotask(() => {
			this.renderQueued = false;
			this.renderNow();
		});
	}

	renderNow() {
		const v = this.currentView();
		const changed = v !== this.view;
		this.view = v;
		document.body.dataset.view = v;
		// For tests: whether the lobby acknowledged that this tab shows it.
		setData(document.body, { browse: this.browseAcked === null ? null : this.browseAcked ? 'on' : 'off' });
		for (const name of ['loading', 'name', 'lobby', 'game']) show($('view-' + name), name === v);
		const me = this.model && this.model.me;
		show($('me'), !!me);
		if (me) setText($('me-name'), me.name);
		show($('gap'), this.gapSeen);
		switch (v) {
		case 'name': {
			const err = $('name-error');
			setText(err, this.helloError);
			show(err, !!this.helloError);
			show($('continue'), !this.client && $('continue-list').children.length > 0);
			break;
		}
		case 'loading':
			setText($('loading-text'), this.hello === 'sent' ? 'Entering the lobby…' : 'Connecting…');
			break;
		case 'lobby':
			this.lobbyView.render(this.model);
			break;
		case 'game':
			this.gameView.render(this.model, currentRoom());
			break;
		}
		if (v !== 'game') document.title = 'cometplay tictactoe';
		this.syncBrowse();
		this.renderConn();
		if (changed && v !== 'loading') {
			// The control that had the focus may have just been hidden with
			// its view: start the keyboard (and screen reader) at the new
			// view's heading.
			const h = document.querySelector('#view-' + v + ' h1');
			const a = document.activeElement;
			const kept = a && a !== document.body && (a.closest('#view-' + v) || a.closest('header'));
			if (h && !kept) h.focus({ preventScroll: true });
		}
	}

	renderConn() {
		const c = this.client;
		const state = c ? c.state : 'idle';
		const t = c ? c.transport : null;
		const fallback = !!(c && t && c.options.transports[0] !== t);
		const detail = t ? (fallback ? 'fallback: ' + t : t) : '';
		setText($('conn-text'), STATE_TEXT[state] || state);
		setText($('conn-detail'), detail);
		const conn = $('conn');
		setData(conn, { state, transport: t, fallback: fallback ? 'true' : 'false', leader: c ? String(c.isLeader) : null });
		conn.title = (STATE_TEXT[state] || state) + (t ? ' via ' + t : '') + (c && !c.isLeader && c.state !== 'idle' ? ', through another tab' : '');
	}
}

const app = new App();
app.init().catch((err) => {
	console.error(err);
	toast('The page failed to start: ' + err.message, 'error');
});
