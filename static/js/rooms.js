// rooms.js — the rooms client of the browser: one player of cometplay's
// lobby and rooms, on top of cometplay.js. docs/CLIENT.md ("The rooms
// client") is the manual; rooms.d.ts declares its API.
//
//   import { RoomsClient } from '/js/rooms.js';
//   const rc = new RoomsClient({ game: { initial: () => ({ heap: 0 }), apply: (s, type, d) => { if (type === 'took') s.heap = d.heap; } } });
//   rc.on('change', render);                    // the model or the status changed
//   rc.on('enter', ({ room }) => show(room));   // quick play matched, a room created
//   rc.play('Ann');                             // hello: the lobby welcomes Ann
//   await rc.quickplay('nim');
//   await rc.move(room, 'take', 2);             // resolves on the room's ack
//
// What it does for a page:
// - Players: a browser may hold several (a name and the reconnection tokens
//   of its seats, in localStorage: store.js). The tabs showing one player
//   share one Comet session (the CometClient is named after the player), so
//   they are one player and use one connection.
// - Hello and tokens: a new session says hello with the player's name and,
//   when it holds a seat, that seat's token, so a reload (a new session)
//   takes the same seat again. Tokens come in "joined" and are kept per
//   room; a refused one is forgotten.
// - The model: what the session knows (welcome, presence, rooms, chat, the
//   quick-play queue and each room it is in), built from the events the
//   server pushed. The game's own state of each room is built by the game's
//   rules (GameRules). A tab that opens later copies the model from another
//   tab of the session over a BroadcastChannel, then applies the events that
//   follow it (by sequence number).
// - Lobby requests with correlation: every action carries a req naming this
//   tab, so the replies of this tab's requests are told from the others'
//   (two tabs of one player share every event).
// - Moves: each gets a move id and the seat's next sequence number; one whose
//   fate is unknown (the network failed) is sent again with the same id,
//   which the room applies at most once; one sent just before the session
//   was lost is settled by the seat's sequence number once the seat is back.
// - Browsing: whether a tab shows the lobby ("browse"), since a seated
//   player's session hears the lobby only while one of its tabs does.

import { CometClient, CometError, Emitter } from './cometplay.js';
import * as store from './store.js';

/** ASK_TIMEOUT is how long (ms) a lobby request waits for its answer event (ask). */
export const ASK_TIMEOUT = 15000;

/** MOVE_TRIES bounds the sends of one move whose fate stays unknown (network errors). */
export const MOVE_TRIES = 3;

/**
 * HURRY_WAIT is the poll wait (ms) asked of the server (CometClient's
 * setPollWait; the server keeps it above its floor, 1 s by default) while
 * the player is in a room or waits for an answer: on the poll transport, the
 * server's own wait (6–10 s) would show moves and replies that late.
 */
export const HURRY_WAIT = 500;

/** CHAT_KEEP bounds the chat lines kept in the model. */
export const CHAT_KEEP = 100;

// How often and how many times a new tab asks the others for the model.
const SYNC_EVERY = 500;
const SYNC_TRIES = 10;
// The wait before a move whose fate is unknown is sent again: attempt n
// waits n times this.
const MOVE_RETRY = 1000;
// A move the server answered "try again" (its room's node died and
// another is rebuilding the room from its turn log, a few seconds) is
// sent again every MOVE_RETRY, up to this many times.
const MOVE_AGAIN_TRIES = 30;
// A hello with a seat's token refused (the seat's room not found: its node
// died and another may be rebuilding it) is said again every HELLO_RETRY
// ms, up to HELLO_TRIES times, before the seat is given up; a welcomed
// hello whose seat could not be given back yet ("try again") asks for it
// with the lobby's reclaim as often.
const HELLO_RETRY = 1000;
const HELLO_TRIES = 20;

function randomId() {
	const b = new Uint8Array(6);
	crypto.getRandomValues(b);
	return [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
}

/** The rules of a game that keeps only the last snapshot ("state" event). */
const SNAPSHOT_RULES = {
	initial: () => ({ snapshot: null }),
	apply(s, type, data) {
		if (type === 'state') s.snapshot = data;
	},
};

/**
 * emptyModel returns the model of a session that has heard nothing yet.
 * @param {string} session the session's public id
 */
export function emptyModel(session) {
	return {
		session,
		seq: 0, // the last session event applied
		me: /** @type {{id: string, name: string}|null} */ (null), // once welcomed
		// The lobby shows each session the first players online and the
		// first rooms (the server's -lobby-shown of each), kept up to date,
		// with the totals.
		online: /** @type {{id: string, name: string}[]} */ ([]), // the players shown, in byPlayer order
		onlineCount: 0, // every player online
		rooms: /** @type {Record<string, any>} */ ({}), // the rooms shown: RoomInfo by id
		roomsCount: 0, // every room listed
		chat: /** @type {{from: {id: string, name: string}, text: string, ts: number, earlier?: boolean}[]} */ ([]),
		queue: /** @type {{game: string, waiting: number, needed: number}|null} */ (null), // while quick-playing
		queueError: '', // why the last wait in the queue ended without a match
		games: /** @type {Record<string, any>} */ ({}), // by room id, see newRoom
	};
}

function newRoom(id, rules) {
	return {
		id,
		joined: false, // a "joined" arrived
		seat: null,
		me: null, // my player summary
		spectator: false,
		players: [], // seated: [{id, name, seat, connected}]
		names: {}, // player id → name, of everyone seated here so far
		state: 'waiting',
		locked: false,
		seq: 0, // my last applied move
		turn: null, // {player: id, deadline: local Unix ms or 0}
		result: null, // what the game passed to Finish
		votes: {}, // player id → true (rematch)
		dropped: {}, // player id → local Unix ms when the seat is given up
		left: null, // why I am out of the room: left, dropped, kicked…
		closed: null, // why the room closed
		kicked: null,
		rejected: null,
		game: rules.initial(), // the game's own state (GameRules)
	};
}

/**
 * decode turns a Comet data event into {subject, type, data}, or null.
 * @param {Record<string, string|undefined>} ev
 */
export function decode(ev) {
	if (ev.p_event !== 'data' || !ev.type || !ev.p_subject) return null;
	let data = {};
	try {
		data = ev.data ? JSON.parse(ev.data) : {};
	} catch {
		return null;
	}
	return { subject: ev.p_subject, type: ev.type, data: data || {} };
}

/**
 * roomOf returns the room id of a /room/<id> subject, or null.
 * @param {string} subject
 * @returns {string|null}
 */
export function roomOf(subject) {
	return subject.startsWith('/room/') ? subject.slice('/room/'.length) : null;
}

/**
 * apply changes the model by one decoded event.
 * @param {ReturnType<typeof emptyModel>} m
 * @param {{subject: string, type: string, data: any}} e
 * @param {number} now local Unix ms
 * @param {{initial: () => any, apply: (state: any, type: string, data: any, room: any) => void}} [rules]
 */
export function apply(m, e, now, rules = SNAPSHOT_RULES) {
	const room = roomOf(e.subject);
	if (room) {
		applyRoom(m, room, e.type, e.data, now, rules);
		return;
	}
	const d = e.data;
	switch (e.subject + ' ' + e.type) {
	case '/lobby welcome':
		m.me = d.player;
		break;
	case '/lobby presence':
		m.online = [...(d.online || [])].sort(byPlayer);
		m.onlineCount = total(d.count, m.online.length);
		break;
	case '/lobby rooms':
		m.rooms = {};
		for (const r of d.rooms || []) m.rooms[r.id] = r;
		m.roomsCount = total(d.count, Object.keys(m.rooms).length);
		break;
	case '/lobby queued':
		m.queue = { game: d.game, waiting: d.waiting, needed: d.needed };
		m.queueError = '';
		break;
	case '/lobby matched':
		m.queue = null;
		break;
	case '/lobby restarted':
		// The lobby moved to another node of a cluster: its queue is gone.
		if (m.queue) m.queueError = 'The lobby restarted: press Quick play again.';
		m.queue = null;
		break;
	case '/lobby ok':
		if (d.action === 'cancel-quickplay') m.queue = null;
		if (d.action === 'name' && d.player) m.me = d.player;
		if (d.action === 'leave-room' && m.games[d.room]) m.games[d.room].left = 'left';
		break;
	case '/lobby error':
		if (d.action === 'quickplay') {
			m.queue = null;
			m.queueError = d.reason || 'refused';
		}
		break;
	case '/lobby/presence presence-delta': {
		// Players entering the shown list or renamed, and the ids of those
		// leaving it: relative to the snapshot, so the list stays the
		// server's.
		const gone = new Set(d.offline || []);
		const upd = new Map((d.online || []).map((/** @type {any} */ p) => [p.id, p]));
		m.online = [...m.online.filter((p) => !gone.has(p.id) && !upd.has(p.id)), ...upd.values()].sort(byPlayer);
		m.onlineCount = total(d.count, m.online.length);
		if (m.me && upd.has(m.me.id)) m.me = upd.get(m.me.id);
		break;
	}
	case '/lobby/rooms rooms-delta':
		for (const id of d.removed || []) delete m.rooms[id];
		for (const r of d.rooms || []) m.rooms[r.id] = r;
		m.roomsCount = total(d.count, Object.keys(m.rooms).length);
		break;
	case '/lobby/chat chat':
		m.chat.push({ from: d.from, text: d.text, ts: d.ts });
		if (m.chat.length > CHAT_KEEP) m.chat.splice(0, m.chat.length - CHAT_KEEP);
		break;
	case '/lobby chat-history': {
		// The lobby's last messages, on arrival and back from a game: they
		// replace the chat (the lines heard live keep their place; the
		// others were said while the session was away: earlier).
		const key = (/** @type {any} */ c) => c.ts + '|' + (c.from && c.from.id) + '|' + c.text;
		const had = new Map(m.chat.map((c) => [key(c), c]));
		m.chat = (d.messages || []).slice(-CHAT_KEEP).map((/** @type {any} */ c) =>
			had.get(key(c)) || { from: c.from, text: c.text, ts: c.ts, earlier: true });
		break;
	}
	}
}

// total returns the server's total count n, or shown if n is missing.
function total(n, shown) {
	return Number.isInteger(n) && n >= 0 ? Math.max(n, shown) : shown;
}

function cmp(a, b) {
	return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * byPlayer orders players as the lobby does: by name, then id.
 * @param {{id: string, name: string}} a
 * @param {{id: string, name: string}} b
 */
export function byPlayer(a, b) {
	return cmp(a.name, b.name) || cmp(a.id, b.id);
}

const STATE_ORDER = { waiting: 0, playing: 1, finished: 2 };

/**
 * byRoom orders rooms as the lobby does: waiting, playing, finished, then by id.
 * @param {{id: string, state: string}} a
 * @param {{id: string, state: string}} b
 */
export function byRoom(a, b) {
	return ((STATE_ORDER[a.state] ?? 3) - (STATE_ORDER[b.state] ?? 3)) || cmp(a.id, b.id);
}

/**
 * shownRooms returns the rooms the lobby shows, in its order.
 * @param {ReturnType<typeof emptyModel>} m
 */
export function shownRooms(m) {
	return Object.values(m.rooms).sort(byRoom);
}

function turnFrom(player, deadlineIn, now) {
	return player ? { player, deadline: deadlineIn > 0 ? now + deadlineIn : 0 } : null;
}

function applyRoom(m, id, type, d, now, rules) {
	const g = m.games[id] || (m.games[id] = newRoom(id, rules));
	for (const p of [d.player, ...(Array.isArray(d.players) ? d.players : [])]) {
		if (p && p.id && p.seat >= 0) g.names[p.id] = p.name;
	}
	switch (type) {
	case 'joined':
		Object.assign(g, {
			joined: true, seat: d.seat, me: d.player, spectator: d.seat < 0, players: d.players || [],
			state: d.state, locked: d.locked, seq: d.seq || 0,
			left: null, closed: null, kicked: null, rejected: null,
		});
		g.turn = d.turn ? turnFrom(d.turn.player && d.turn.player.id, d.turn.deadline_ms ? d.turn.timeout_ms : 0, now) : null;
		if (!d.reconnected) g.votes = {};
		break;
	case 'player-joined':
		g.players = [...g.players.filter((p) => p.id !== d.player.id), d.player].sort((a, b) => a.seat - b.seat);
		break;
	case 'player-left':
		g.players = g.players.filter((p) => p.id !== d.player.id);
		delete g.dropped[d.player.id];
		if (g.me && d.player.id === g.me.id) g.left = d.reason || 'left';
		break;
	case 'player-dropped':
		g.players = g.players.map((p) => p.id === d.player.id ? { ...p, connected: false } : p);
		g.dropped[d.player.id] = now + (d.window_ms || 0);
		break;
	case 'player-reconnected':
		g.players = g.players.map((p) => p.id === d.player.id ? { ...p, connected: true } : p);
		delete g.dropped[d.player.id];
		break;
	case 'room-state':
		g.state = d.state;
		g.locked = d.locked;
		if (d.state === 'playing') {
			g.result = null;
			g.votes = {};
		}
		break;
	case 'turn':
		g.turn = turnFrom(d.player && d.player.id, d.deadline_ms ? d.timeout_ms : 0, now);
		break;
	case 'ack':
		g.seq = Math.max(g.seq, d.seq || 0);
		break;
	case 'error':
		if (d.expected) g.seq = d.expected - 1;
		break;
	case 'finished':
		g.result = d.result || {};
		g.state = 'finished';
		g.turn = null;
		break;
	case 'rematch-vote':
		g.votes = { ...g.votes, [d.player.id]: true };
		break;
	case 'closed':
		g.closed = d.reason || 'room closed';
		g.turn = null;
		break;
	case 'kicked':
		g.kicked = d.reason || 'kicked';
		g.turn = null;
		break;
	case 'join-rejected':
		g.rejected = d.reason || 'refused';
		break;
	}
	rules.apply(g.game, type, d, g);
}

/**
 * active reports whether the player is (still) in the room: seated or
 * watching, and the room not closed.
 * @param {any} g a room of the model, or undefined
 * @returns {boolean}
 */
export function active(g) {
	return !!g && g.joined && !g.left && !g.closed && !g.kicked;
}

/**
 * RoomsClient is one tab's player of the lobby and its rooms. See the top of
 * this file and docs/CLIENT.md.
 *
 * Events (on(type, fn)):
 * - 'change' (): the model or the client's status changed: render.
 * - 'enter' ({room}): a request of this tab put the player in a room (a room
 *   created, quick play matched): show it.
 * - 'notice' ({text, kind}): something to tell the player (kind 'info' or
 *   'error'): a refused request of this tab, a seat no longer held.
 * - 'session' (): a new Comet session (the first, or after the server
 *   forgot the old one): what the page fetched for the old one (lists paged
 *   in with list) is stale.
 * - 'gap' (): events were lost; the model may be incomplete (reload).
 */
export class RoomsClient {
	#events = new Emitter();
	#rules;
	#cometOptions;
	#currentRoom;
	#tabId = randomId();
	#reqN = 0;
	#key = null; // the player (profile) this tab shows
	/** @type {CometClient|null} */
	#comet = null; // its CometClient
	#bc = null; // BroadcastChannel of the player's tabs
	/** @type {any} */
	#model = null;
	#synced = false; // the model is complete (not waiting for another tab's copy)
	#buffer = []; // events received while not synced
	#syncBase = 0;
	#syncTimer = null;
	/** @type {'none'|'sent'|'failed'|'done'} */
	#hello = 'none';
	#helloError = '';
	#helloToken = false; // the hello sent carried a seat's token
	#helloTries = 0; // hellos with a token refused in a row
	#helloTimer = null;
	/** @type {string|null} */
	#joining = null; // the room being entered or reclaimed
	#moves = new Map(); // room → the move sent and not yet applied: see move
	#gapSeen = false;
	#browsing = false; // this tab wants the lobby's broadcasts
	#browseSent = false; // what the lobby was last told of it
	#browseReq = null; // the req of the last browse sent
	/** @type {boolean|null} */
	#browseAcked = null; // what the lobby acknowledged of it
	#pageHidden = false;
	#waiters = new Map(); // req → {reply, done, fail, timer}: see ask
	#changeQueued = false;
	#hurrying = false; // asking for short poll waits

	/**
	 * @param {{game?: {initial: () => any, apply: (state: any, type: string, data: any, room: any) => void}, comet?: object, currentRoom?: () => (string|null)}} [options]
	 */
	constructor(options = {}) {
		this.#rules = options.game || SNAPSHOT_RULES;
		this.#cometOptions = options.comet || {};
		this.#currentRoom = options.currentRoom || (() => null);
		if (typeof window === 'object' && window.addEventListener) {
			// Before the CometClient's own listener (it may close the
			// session), so that "not browsing" still leaves.
			window.addEventListener('pagehide', () => {
				this.#pageHidden = true;
				this.#syncBrowse();
			});
			window.addEventListener('pageshow', (e) => {
				if (!e.persisted) return;
				this.#pageHidden = false;
				this.#syncBrowse();
			});
		}
	}

	/**
	 * on registers fn for events of type ('change', 'enter', 'notice',
	 * 'session', 'gap') and returns a function removing it.
	 * @param {string} type
	 * @param {(arg: any) => void} fn
	 * @returns {() => void}
	 */
	on(type, fn) {
		return this.#events.on(type, fn);
	}

	#emit(type, arg) {
		this.#events.emit(type, arg);
	}

	/** comet is the player's CometClient (connection state, transport), or null before a player is chosen. */
	get comet() { return this.#comet; }

	/** model is what the player's session knows (see emptyModel), or null. */
	get model() { return this.#model; }

	/** hello is where the session's hello stands: 'none', 'sent', 'failed' or 'done'. */
	get hello() { return this.#hello; }

	/** helloError is why the hello was refused (status 'failed'), or ''. */
	get helloError() { return this.#helloError; }

	/** joining is the room being entered (joined, watched, reclaimed), or null. */
	get joining() { return this.#joining; }

	/** gapSeen reports whether events were lost since the session began (reload to catch up). */
	get gapSeen() { return this.#gapSeen; }

	/** browseAcked is what the lobby acknowledged of this tab's browse (true, false), or null. */
	get browseAcked() { return this.#browseAcked; }

	// —— Players of this browser ——

	/**
	 * resume starts this tab as the player it showed before (a reload), or,
	 * for a tab opened on room, as the player of this browser seated in it.
	 * It resolves to whether it started.
	 * @param {string|null} [room]
	 * @returns {Promise<boolean>}
	 */
	async resume(room = null) {
		let key = store.tabProfile();
		if (key && !store.get(key)) key = null;
		if (!key && room) {
			const live = await store.liveProfiles();
			const seated = Object.entries(store.profiles())
				.filter(([, p]) => p.seats && p.seats[room])
				.sort(([ka, a], [kb, b]) => (Number(live.has(kb)) - Number(live.has(ka))) || (b.at - a.at));
			if (seated.length) key = seated[0][0];
		}
		if (!key) return false;
		this.#start(key);
		return true;
	}

	/**
	 * livePlayers resolves to the players that other tabs of this browser
	 * show now: choosing one (continueAs) makes this tab the same player.
	 * @returns {Promise<{key: string, name: string}[]>}
	 */
	async livePlayers() {
		const all = store.profiles();
		const live = await store.liveProfiles();
		return [...live].filter((k) => all[k]).map((key) => ({ key, name: all[key].name }));
	}

	/**
	 * lastName returns the name of the player this browser used last, or ''.
	 * @returns {string}
	 */
	lastName() {
		const all = Object.values(store.profiles()).sort((a, b) => b.at - a.at);
		return all.length ? all[0].name : '';
	}

	/**
	 * play starts this tab as the player called name: the player of this
	 * browser with that name (and its seats), or a new one. After a refused
	 * hello it says hello again with the new name.
	 * @param {string} name
	 */
	async play(name) {
		name = name.trim().replace(/\s+/g, ' ');
		this.#helloError = '';
		if (this.#comet) {
			store.update(this.#key, (p) => { p.name = name; });
			this.#sayHello();
			return;
		}
		const live = await store.liveProfiles();
		const same = Object.entries(store.profiles()).filter(([, p]) => p.name === name)
			.sort(([ka, a], [kb, b]) => (Number(live.has(kb)) - Number(live.has(ka))) || (b.at - a.at));
		const key = same.length ? same[0][0] : store.newKey();
		store.update(key, (p) => { p.name = name; });
		this.#start(key);
	}

	/**
	 * otherTabs resolves to the number of the player's other tabs in this
	 * browser: the same player, never its opponent.
	 * @returns {Promise<number>}
	 */
	async otherTabs() {
		return this.#key ? Math.max(0, (await store.tabsOf(this.#key)) - 1) : 0;
	}

	/**
	 * continueAs starts this tab as the player key (from livePlayers): the
	 * same player as the other tabs showing it, with their session.
	 * @param {string} key
	 */
	continueAs(key) {
		if (!this.#comet && store.get(key)) this.#start(key);
	}

	/**
	 * rename changes the player's name (the lobby's "name"): every tab of
	 * the player, and the next hello, use the new one. It rejects with the
	 * lobby's reason (a name taken, an invalid one).
	 * @param {string} name
	 * @returns {Promise<void>}
	 */
	async rename(name) {
		name = name.trim().replace(/\s+/g, ' ');
		const d = await this.ask('name', { name }, 'ok');
		const to = d.player && d.player.name ? d.player.name : name;
		store.update(this.#key, (p) => { p.name = to; });
	}

	/**
	 * signOut stops this tab being the player: its client closes (the last
	 * tab of the player leaves the session: its seats are held for the
	 * room's reconnect window, as when a page closes), and the tab forgets
	 * the player; if no other tab shows it, the browser forgets it too, with
	 * its seats. The client can then play again, as someone else.
	 * @returns {Promise<void>}
	 */
	async signOut() {
		const key = this.#key;
		if (!key) return;
		this.#syncBrowse(false, true);
		for (const w of [...this.#waiters.values()]) w.fail(new CometError('closed', 'signed out'));
		for (const mv of [...this.#moves.values()]) mv.fail(new CometError('closed', 'signed out'));
		this.#comet?.close();
		this.#bc?.close();
		clearTimeout(this.#syncTimer);
		const tab = this.#tabId;
		store.releaseTab(key, tab);
		store.setTabProfile(null);
		this.#key = this.#comet = this.#bc = this.#model = this.#joining = this.#browseReq = this.#browseAcked = null;
		this.#synced = this.#gapSeen = this.#browseSent = this.#hurrying = false;
		this.#buffer = [];
		this.#hello = 'none';
		this.#helloError = '';
		const live = await store.liveProfiles(tab);
		if (!live.has(key)) store.remove(key);
		this.#changed();
	}

	// start runs the tab as player key: a client shared with the other tabs
	// of that player.
	#start(key) {
		this.#key = key;
		store.setTabProfile(key);
		store.update(key, () => {});
		store.holdTab(key, this.#tabId);
		if (typeof BroadcastChannel === 'function') {
			this.#bc = new BroadcastChannel('cometplay-app:' + key);
			this.#bc.onmessage = (e) => this.#onTabMessage(e.data);
		}
		const c = new CometClient({ ...this.#cometOptions, name: 'p-' + key });
		this.#comet = c;
		c.on('event', (ev) => this.#onEvent(ev));
		c.on('session', (s) => this.#onSession(s));
		c.on('gap', () => {
			this.#gapSeen = true;
			this.#emit('gap', undefined);
			this.#changed();
		});
		c.connect().catch(() => {});
		this.#changed();
	}

	// —— Status ——

	/**
	 * status says where the player is: 'idle' (no player chosen), 'failed'
	 * (the hello was refused: helloError says why; play again), 'loading'
	 * (connecting, entering the lobby, copying another tab's model) or
	 * 'ready' (welcomed: model.me is the player).
	 * @returns {'idle'|'failed'|'loading'|'ready'}
	 */
	get status() {
		if (!this.#comet) return 'idle';
		if (this.#hello === 'failed') return 'failed';
		if (!this.#model || !this.#synced || !this.#model.me) return 'loading';
		return 'ready';
	}

	/**
	 * room returns the model of room id, or null.
	 * @param {string|null} id
	 */
	room(id) {
		return (this.#model && id && this.#model.games[id]) || null;
	}

	// changed tells the page (once per turn of the event loop) that the
	// model or the status changed.
	#changed() {
		if (this.#changeQueued) return;
		this.#changeQueued = true;
		queueMicrotask(() => {
			this.#changeQueued = false;
			this.#syncBrowse();
			this.#syncHurry();
			this.#emit('change', undefined);
		});
	}

	#notice(text, kind = 'info') {
		this.#emit('notice', { text, kind });
	}

	// —— Sessions, hello and the shared model ——

	#onSession({ previous }) {
		const keep = previous === null ? this.#buffer : [];
		const wasQueued = !!this.#model?.queue;
		this.#model = emptyModel(this.#comet.publicId);
		// The wait for a quick match was the old session's.
		if (wasQueued) this.#model.queueError = 'The connection to the server was lost: press Quick play again.';
		this.#buffer = [];
		this.#gapSeen = false;
		this.#browseSent = false; // a new session knows nothing of this tab
		this.#browseReq = null;
		this.#browseAcked = null;
		for (const w of [...this.#waiters.values()]) w.fail(new CometError('closed', 'a new session'));
		for (const mv of this.#moves.values()) {
			// Its seat comes back with the hello's token: its joined says
			// whether the move was applied (sendMove again if not).
			clearTimeout(mv.timer);
			mv.lost = true;
		}
		clearTimeout(this.#syncTimer);
		if (this.#comet.isLeader || this.#comet.lastSeq === 0) {
			// A new session: every event of it is still to come.
			this.#synced = true;
			this.#hello = 'none';
			for (const ev of keep) this.#applyEvent(ev);
			if (this.#comet.isLeader) this.#sayHello();
		} else {
			// Another tab's session, already under way: copy its model.
			this.#synced = false;
			this.#buffer = keep;
			this.#syncBase = this.#comet.lastSeq;
			this.#hello = 'done';
			this.#requestModel();
		}
		this.#emit('session', undefined);
		this.#changed();
	}

	// sayHello introduces the session to the lobby, with the reconnection
	// token of a held seat: the lobby gives the seat back.
	#sayHello() {
		const p = store.get(this.#key);
		if (!p) return;
		const room = this.#currentRoom();
		const seatRoom = room && p.seats[room] ? room : Object.keys(p.seats)[0] || null;
		/** @type {Record<string, string>} */
		const fields = { name: p.name };
		if (seatRoom) {
			fields.token = p.seats[seatRoom];
			this.#joining = seatRoom;
		}
		this.#helloToken = !!seatRoom;
		this.#hello = 'sent';
		this.lobby('hello', fields).catch((err) => {
			if (err.code === 'closed') return;
			this.#helloFailed(err.message);
		});
		this.#changed();
	}

	// helloLater counts a try of the hello (or of its seat's reclaim) and
	// runs again HELLO_RETRY ms later, on the same session only.
	#helloLater(again) {
		this.#helloTries++;
		clearTimeout(this.#helloTimer);
		const comet = this.#comet;
		this.#helloTimer = setTimeout(() => {
			if (this.#comet === comet) again();
		}, HELLO_RETRY);
	}

	#helloFailed(text) {
		this.#hello = 'failed';
		this.#helloError = text;
		this.#joining = null;
		this.#changed();
	}

	#requestModel() {
		let tries = 0;
		const ask = () => {
			if (this.#synced) return;
			if (++tries > SYNC_TRIES) {
				// No tab answered: go on with what the events tell.
				this.#synced = true;
				const buf = this.#buffer;
				this.#buffer = [];
				for (const ev of buf) this.#applyEvent(ev);
				this.#notice('Could not copy the state of your other tab; some of it may be missing.', 'error');
				this.#changed();
				return;
			}
			this.#bc?.postMessage({ k: 'want', from: this.#tabId, session: this.#model.session });
			this.#syncTimer = setTimeout(ask, SYNC_EVERY);
		};
		ask();
	}

	#onTabMessage(msg) {
		if (!msg || typeof msg !== 'object' || !this.#model) return;
		if (msg.k === 'want' && msg.from !== this.#tabId && this.#synced && msg.session === this.#model.session) {
			this.#bc.postMessage({ k: 'model', to: msg.from, model: this.#model });
			return;
		}
		if (msg.k === 'model' && msg.to === this.#tabId && !this.#synced && msg.model &&
			msg.model.session === this.#model.session && msg.model.seq >= this.#syncBase) {
			clearTimeout(this.#syncTimer);
			this.#model = msg.model;
			this.#synced = true;
			const buf = this.#buffer;
			this.#buffer = [];
			for (const ev of buf) this.#applyEvent(ev);
			this.#changed();
		}
	}

	#onEvent(ev) {
		if (ev.p_event === 'abort') {
			this.#notice('The server is restarting; reconnecting…');
			return;
		}
		if (ev.p_seq === undefined) return;
		if (!this.#model || !this.#synced) {
			this.#buffer.push(ev);
			return;
		}
		this.#applyEvent(ev);
	}

	#applyEvent(ev) {
		const seq = Number(ev.p_seq);
		if (!(seq > this.#model.seq)) return; // already in the model
		this.#model.seq = seq;
		const e = decode(ev);
		if (!e) return;
		apply(this.#model, e, Date.now(), this.#rules);
		this.#react(e);
		this.#changed();
	}

	// mine reports whether a req names a request of this tab.
	#mine(req) {
		return typeof req === 'string' && req.startsWith(this.#tabId + '.');
	}

	// react does what an event means beyond the model: remember tokens,
	// answer this tab's requests and moves, report errors.
	#react(e) {
		const d = e.data;
		const mine = this.#mine(d.req);
		const w = mine && e.subject === '/lobby' ? this.#waiters.get(d.req) : undefined;
		if (w && e.type === w.reply) {
			w.done(d); // and on: a room created or matched is entered
		} else if (w && e.type === 'error') {
			w.fail(new CometError('nack', d.reason || 'refused'));
			return; // the request's caller says it
		}
		const room = roomOf(e.subject);
		if (room) {
			this.#reactRoom(room, e.type, d);
			return;
		}
		if (e.subject !== '/lobby') return;
		switch (e.type) {
		case 'restarted':
			// The new lobby knows nobody: say hello again (with a held
			// seat's token, which keeps the seat).
			if (this.#comet.isLeader && this.#hello === 'done') this.#sayHello();
			break;
		case 'welcome': {
			this.#hello = 'done';
			this.#helloError = '';
			this.#helloTries = 0;
			const url = this.#currentRoom();
			const p = store.get(this.#key);
			if (url && p && p.watching === url && this.#joining !== url && !active(this.#model.games[url])) {
				this.spectate(url).catch(() => {}); // a spectator's reload: watch again
			}
			break;
		}
		case 'matched':
		case 'created':
			if (mine) {
				this.#joining = d.room;
				this.#emit('enter', { room: d.room });
			}
			break;
		case 'ok':
			if (d.action === 'browse' && d.req === this.#browseReq) this.#browseAcked = this.#browseSent;
			if (d.action === 'leave-room') this.#forget(d.room);
			break;
		case 'error':
			if (d.action === 'hello' || d.action === 'reclaim') {
				if (!this.#model.me && this.#helloToken && this.#helloTries < HELLO_TRIES) {
					// The seat's room is not found (its node died: another
					// node may be rebuilding it from its turn log), and its
					// name is still held by the lost session. The refused
					// hello leaves this session free to say hello again.
					this.#helloLater(() => {
						if (this.#hello === 'sent') this.#sayHello();
					});
					break;
				}
				if (!this.#model.me) {
					this.#helloFailed(d.reason);
				} else if (this.#joining && /try again/.test(d.reason || '') && this.#helloTries < HELLO_TRIES) {
					// Welcomed, but the seat's room's node did not answer in
					// time: the seat is still held; ask for it again.
					const room = this.#joining;
					this.#helloLater(() => {
						const token = store.get(this.#key)?.seats[room];
						if (this.#joining === room && token) this.lobby('reclaim', { token }).catch(() => {});
					});
				} else if (this.#joining) {
					// Welcomed, but the seat could not be given back.
					this.#forget(this.#joining);
					this.#moves.get(this.#joining)?.fail(new CometError('nack', d.reason || 'seat not held'));
					this.#notice('Your seat in that game is no longer held.', 'error');
					this.#joining = null;
				}
				break;
			}
			if (d.action === 'browse') break; // quietly: the next view change says it again
			if (d.action === 'quickplay') break; // model.queueError says it
			if ((d.action === 'join' || d.action === 'spectate') && mine) this.#joining = null;
			if (mine) this.#notice(d.reason, 'error');
			break;
		}
	}

	#reactRoom(room, type, d) {
		const g = this.#model.games[room];
		const mv = this.#moves.get(room);
		switch (type) {
		case 'joined':
			store.update(this.#key, (pr) => {
				if (d.token) pr.seats[room] = d.token;
				pr.watching = d.seat < 0 ? room : pr.watching === room ? null : pr.watching;
			});
			if (this.#joining === room) this.#joining = null;
			if (mv && mv.lost) {
				// The seat is back after the session was lost: the seat's
				// sequence number tells whether the move was applied.
				if (g.seq >= mv.seq) mv.done();
				else this.#sendMove(room, mv);
			}
			break;
		case 'join-rejected':
			this.#forget(room);
			if (this.#joining === room) this.#joining = null;
			if (this.#currentRoom() !== room) this.#notice(d.reason, 'error');
			mv?.fail(new CometError('nack', d.reason || 'refused'));
			break;
		case 'closed':
		case 'kicked':
			this.#forget(room);
			mv?.fail(new CometError('nack', d.reason || type));
			break;
		case 'player-left':
			if (g && g.me && d.player && d.player.id === g.me.id) {
				this.#forget(room);
				mv?.fail(new CometError('nack', 'you left the room'));
			}
			break;
		case 'ack':
			if (mv && d.move === mv.move) mv.done();
			break;
		case 'error':
			if (mv && d.move === mv.move) {
				mv.fail(new CometError('nack', d.reason || 'refused'));
			} else if (!d.move && this.#currentRoom() === room) {
				this.#notice(d.reason, 'error');
			}
			break;
		}
	}

	// forget drops what the player remembers of a room (its token).
	#forget(room) {
		if (!room || !this.#key) return;
		store.update(this.#key, (p) => {
			delete p.seats[room];
			if (p.watching === room) p.watching = null;
		});
	}

	// —— Lobby requests ——

	/**
	 * lobby publishes a lobby action with a req naming this tab (or
	 * options.req) and resolves when the server accepted it (publish-ack):
	 * its outcome comes as events. options.keepalive lets it out of a page
	 * going away.
	 * @param {string} action
	 * @param {Record<string, string|number|boolean|null|undefined>} [fields]
	 * @param {{req?: string, keepalive?: boolean}} [options]
	 * @returns {Promise<void>}
	 */
	lobby(action, fields = {}, options = {}) {
		if (!this.#comet) return Promise.reject(new CometError('closed', 'no player'));
		/** @type {Record<string, string|number|boolean>} */
		const f = { action, req: options.req || this.#nextReq() };
		for (const [k, v] of Object.entries(fields)) {
			if (v !== undefined && v !== null && v !== '') f[k] = v;
		}
		return this.#comet.publish('/lobby', f, { keepalive: !!options.keepalive });
	}

	#nextReq() {
		return this.#tabId + '.' + (++this.#reqN);
	}

	/**
	 * ask performs a lobby action whose answer is an event (reply: 'page'
	 * for 'list', 'ok' for 'name'…) and resolves with that event's data. It
	 * rejects with the nack or the error event of the action, after
	 * ASK_TIMEOUT without an answer, or when the session changes.
	 * @param {string} action
	 * @param {Record<string, string|number|boolean|null|undefined>} fields
	 * @param {string} reply
	 * @returns {Promise<any>}
	 */
	ask(action, fields, reply) {
		const req = this.#nextReq();
		return new Promise((resolve, reject) => {
			const end = () => {
				clearTimeout(w.timer);
				this.#waiters.delete(req);
				this.#changed();
			};
			const w = {
				reply,
				done: (d) => { end(); resolve(d); },
				fail: (err) => { end(); reject(err); },
				timer: setTimeout(() => w.fail(new CometError('network', 'the lobby did not answer')), ASK_TIMEOUT),
			};
			this.#waiters.set(req, w);
			this.#changed();
			this.lobby(action, fields, { req }).catch((err) => w.fail(err));
		});
	}

	/**
	 * quickplay puts the player in the game's quick-play queue; 'enter'
	 * fires when it is matched. Resolves with the queue's state.
	 * @param {string} game
	 * @returns {Promise<{game: string, waiting: number, needed: number}>}
	 */
	quickplay(game) {
		return this.ask('quickplay', { game }, 'queued');
	}

	/**
	 * cancelQuickplay leaves the quick-play queue.
	 * @returns {Promise<void>}
	 */
	async cancelQuickplay() {
		await this.ask('cancel-quickplay', {}, 'ok');
	}

	/**
	 * create creates a room of game (options: the game's, label: its lobby
	 * label) and seats the player in it; 'enter' fires with the room.
	 * Resolves with the room's id.
	 * @param {string} game
	 * @param {Record<string, string>} [options]
	 * @param {string} [label]
	 * @returns {Promise<string>}
	 */
	async create(game, options, label) {
		const fields = { game, label, options: options && Object.keys(options).length ? JSON.stringify(options) : undefined };
		const d = await this.ask('create', fields, 'created');
		return d.room;
	}

	/**
	 * join takes a seat in room (spectate watches it); the room's events
	 * follow. Resolves when the lobby took the request; a refusal comes as
	 * the room's join-rejected (model.games[room].rejected).
	 * @param {string} room
	 * @param {Record<string, string>} [options]
	 * @returns {Promise<void>}
	 */
	join(room, options) {
		return this.#enterRoom('join', room, options);
	}

	/**
	 * spectate watches room.
	 * @param {string} room
	 * @param {Record<string, string>} [options]
	 * @returns {Promise<void>}
	 */
	spectate(room, options) {
		return this.#enterRoom('spectate', room, options);
	}

	async #enterRoom(how, room, options) {
		this.#joining = room;
		this.#changed();
		try {
			await this.ask(how, { room, options: options ? JSON.stringify(options) : undefined }, 'ok');
		} catch (err) {
			if (this.#joining === room) this.#joining = null;
			this.#changed();
			throw err;
		}
	}

	/**
	 * leave leaves room (a game in progress is forfeited, as the game decides).
	 * @param {string} room
	 * @returns {Promise<void>}
	 */
	async leave(room) {
		await this.ask('leave-room', { room }, 'ok');
		this.#forget(room);
	}

	/**
	 * chat says text to the lobby.
	 * @param {string} text
	 * @returns {Promise<void>}
	 */
	chat(text) {
		return this.lobby('chat', { text });
	}

	/**
	 * list asks for a page of the lobby's rooms or players from offset.
	 * @param {'rooms'|'players'} what
	 * @param {number} offset
	 * @returns {Promise<{what: string, offset: number, count: number, rooms?: any[], online?: any[]}>}
	 */
	list(what, offset) {
		return this.ask('list', { what, offset: String(offset) }, 'page');
	}

	/**
	 * browse says whether this tab shows the lobby: a session whose player
	 * holds a seat hears the lobby's lists and chat only while one of its
	 * tabs does. The lobby is told when it changes (and not while the page
	 * is hidden).
	 * @param {boolean} on
	 */
	browse(on) {
		this.#browsing = on;
		this.#syncBrowse();
	}

	#syncBrowse(force = null, keepalive = false) {
		if (!this.#comet || !this.#model || !this.#synced || !this.#model.me) return; // no hello done yet
		const on = force ?? (this.#browsing && !this.#pageHidden);
		if (on === this.#browseSent) return;
		this.#browseSent = on;
		this.#browseReq = this.#nextReq();
		this.lobby('browse', { on: on ? '1' : '0', tab: this.#tabId }, { req: this.#browseReq, keepalive: keepalive || this.#pageHidden }).catch(() => {});
	}

	// —— Moves and messages ——

	/**
	 * move sends a move of the game (type, data: any JSON value) to room,
	 * with a move id and the seat's next sequence number, and resolves when
	 * the room applied it (its ack). It rejects with the room's reason (not
	 * your turn, the game's own text…), or the nack of the publish. A move
	 * whose fate is unknown (a network error) is sent again with the same id
	 * (MOVE_TRIES in all), and one answered "try again" (or 502/503) every
	 * MOVE_RETRY up to MOVE_AGAIN_TRIES times; one sent as the session was
	 * lost is settled when the seat is back. One move at a time per room:
	 * pending(room) is it.
	 * @param {string} room
	 * @param {string} type
	 * @param {any} data
	 * @returns {Promise<void>}
	 */
	move(room, type, data) {
		const g = this.room(room);
		if (!g || !active(g) || g.spectator) return Promise.reject(new CometError('nack', 'not a player of this room'));
		if (this.#moves.has(room)) return Promise.reject(new CometError('nack', 'a move is on its way already'));
		return new Promise((resolve, reject) => {
			const end = () => {
				clearTimeout(mv.timer);
				if (this.#moves.get(room) === mv) this.#moves.delete(room);
				this.#changed();
			};
			const mv = {
				move: this.#nextReq(), seq: g.seq + 1, type, data, tries: 0, lost: false, timer: null,
				done: () => { end(); resolve(); },
				fail: (err) => { end(); reject(err); },
			};
			this.#moves.set(room, mv);
			this.#sendMove(room, mv);
			this.#changed();
		});
	}

	#sendMove(room, mv) {
		mv.lost = false;
		mv.tries++;
		this.#comet.publish('/room/' + room, { type: mv.type, data: JSON.stringify(mv.data), move: mv.move, seq: mv.seq }).catch((err) => {
			// A move of a lost session is settled when the seat is back.
			if (this.#moves.get(room) !== mv || mv.lost) return;
			if ((err.code === 'network' || err.code === 'interrupted') && mv.tries < MOVE_TRIES) {
				// It may have arrived: the same id is applied at most once.
				mv.timer = setTimeout(() => this.#sendMove(room, mv), MOVE_RETRY * mv.tries);
			} else if (((err.code === 'nack' && /try again/.test(err.message)) || (err.code === 'http' && [502, 503].includes(err.detail?.status))) && mv.tries < MOVE_AGAIN_TRIES) {
				// Not taken (the room's node died, another is rebuilding
				// the room; or the balancer found no node): again, same id.
				mv.timer = setTimeout(() => this.#sendMove(room, mv), MOVE_RETRY);
			} else {
				mv.fail(err);
			}
		});
	}

	/**
	 * pending returns the move sent in room and not yet applied, or null.
	 * @param {string} room
	 * @returns {{move: string, seq: number, type: string, data: any}|null}
	 */
	pending(room) {
		const mv = this.#moves.get(room);
		const g = this.room(room);
		if (!mv || !g || g.state !== 'playing') return null;
		return { move: mv.move, seq: mv.seq, type: mv.type, data: mv.data };
	}

	/**
	 * send sends room a message that is not a move (not sequenced), such as
	 * {type: 'rematch'}.
	 * @param {string} room
	 * @param {string} type
	 * @param {any} [data]
	 * @returns {Promise<void>}
	 */
	send(room, type, data) {
		if (!this.#comet) return Promise.reject(new CometError('closed', 'no player'));
		/** @type {Record<string, string>} */
		const f = { type };
		if (data !== undefined) f.data = JSON.stringify(data);
		return this.#comet.publish('/room/' + room, f);
	}

	/**
	 * rematch asks for a rematch of the finished game in room.
	 * @param {string} room
	 * @returns {Promise<void>}
	 */
	rematch(room) {
		return this.send(room, 'rematch');
	}

	// syncHurry asks the server for short poll waits (on the poll
	// transport) while an answer is awaited or the player is in a room, and
	// for the server's own the rest of the time.
	#syncHurry() {
		if (!this.#comet) return;
		const m = this.#model;
		const inRoom = !!m && Object.values(m.games).some(active);
		const hurry = this.#hello === 'sent' || !!this.#joining || this.#waiters.size > 0 || this.#moves.size > 0 ||
			!!(m && m.queue) || inRoom;
		if (hurry === this.#hurrying) return;
		this.#hurrying = hurry;
		this.#comet.setPollWait(hurry ? HURRY_WAIT : null);
	}
}
