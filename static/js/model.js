// model.js — what one Comet session knows, built from the events the
// server pushed to it (docs/ROOMS.md, "What the browser sees"). It is plain
// data (JSON-safe), so a tab that opens later can take a copy from another
// tab of the same session and continue from there.

/** CHAT_KEEP bounds the chat lines kept. */
const CHAT_KEEP = 100;

/**
 * MORE_KEEP bounds the entries a list paged in with "Show more" keeps
 * (rooms, or players), beyond the ones the lobby keeps up to date.
 */
export const MORE_KEEP = 1000;

/**
 * emptyModel returns the model of a session that has heard nothing yet.
 * @param {string} session the session's public id
 */
export function emptyModel(session) {
	return {
		session,
		seq: 0, // the last session event applied
		me: null, // {id, name} once welcomed
		// The lobby shows each session the first players online and the
		// first rooms (the server's -lobby-shown of each), kept up to date,
		// with the totals.
		online: [], // the players shown, [{id, name}] in byPlayer order
		onlineCount: 0, // every player online
		rooms: {}, // the rooms shown: RoomInfo by id
		roomsCount: 0, // every room listed
		chat: [], // [{from: {id, name}, text, ts}]
		queue: null, // {game, waiting, needed} while quick-playing
		games: {}, // by room id, see newGame
	};
}

function newGame(id) {
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
		turnTime: 0, // the room's clock, in seconds
		board: ['', '', '', '', '', '', '', '', ''],
		marks: {}, // player id → 'X' | 'O'
		first: null,
		lastMove: -1,
		result: null, // {winner?, mark?, line?, draw?, reason}
		votes: {}, // player id → true (rematch)
		dropped: {}, // player id → local Unix ms when the seat is given up
		left: null, // why I am out of the room: left, dropped, kicked…
		closed: null, // why the room closed
		kicked: null,
		rejected: null,
	};
}

/**
 * decode turns a Comet data event into {subject, type, data}, or null.
 * @param {Record<string, string>} ev
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

/** roomOf returns the room id of a /room/<id> subject, or null. */
export function roomOf(subject) {
	return subject.startsWith('/room/') ? subject.slice('/room/'.length) : null;
}

/**
 * apply changes the model by one decoded event.
 * @param {ReturnType<typeof emptyModel>} m
 * @param {{subject: string, type: string, data: any}} e
 * @param {number} now local Unix ms
 */
export function apply(m, e, now) {
	const room = roomOf(e.subject);
	if (room) {
		applyRoom(m, room, e.type, e.data, now);
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
		break;
	case '/lobby matched':
		m.queue = null;
		break;
	case '/lobby ok':
		if (d.action === 'cancel-quickplay') m.queue = null;
		if (d.action === 'name' && d.player) m.me = d.player;
		if (d.action === 'leave-room' && m.games[d.room]) m.games[d.room].left = 'left';
		break;
	case '/lobby error':
		if (d.action === 'quickplay') m.queue = null;
		break;
	case '/lobby/presence presence-delta': {
		// Players entering the shown list or renamed, and the ids of those
		// leaving it: relative to the snapshot, so the list stays the
		// server's.
		const gone = new Set(d.offline || []);
		const upd = new Map((d.online || []).map((p) => [p.id, p]));
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
	}
}

// total returns the server's total count n, or shown if n is missing.
function total(n, shown) {
	return Number.isInteger(n) && n >= 0 ? Math.max(n, shown) : shown;
}

function cmp(a, b) {
	return a < b ? -1 : a > b ? 1 : 0;
}

/** byPlayer orders players as the lobby does: by name, then id. */
export function byPlayer(a, b) {
	return cmp(a.name, b.name) || cmp(a.id, b.id);
}

const STATE_ORDER = { waiting: 0, playing: 1, finished: 2 };

/** byRoom orders rooms as the lobby does: waiting, playing, finished, then by id. */
export function byRoom(a, b) {
	return ((STATE_ORDER[a.state] ?? 3) - (STATE_ORDER[b.state] ?? 3)) || cmp(a.id, b.id);
}

/** shownRooms returns the rooms the lobby shows, in its order. */
export function shownRooms(m) {
	return Object.values(m.rooms).sort(byRoom);
}

/**
 * emptyMore returns a list paged in with the lobby's "list" action, beyond
 * the shown list: a snapshot, not kept up to date.
 */
export function emptyMore() {
	return {
		items: [], // rooms or players, in the lobby's order
		next: 0, // the offset of the next page
		at: 0, // local Unix ms of the first page
		end: false, // the last page came
	};
}

/**
 * addPage appends the entries of a "page" event (data) to more, skipping
 * those it has already, up to MORE_KEEP.
 * @param {ReturnType<typeof emptyMore>} more
 * @param {{what: string, offset: number, count: number, rooms?: object[], online?: object[]}} data
 * @param {number} now local Unix ms
 */
export function addPage(more, data, now) {
	const got = (data.what === 'players' ? data.online : data.rooms) || [];
	const have = new Set(more.items.map((x) => x.id));
	if (!more.items.length) more.at = now;
	for (const x of got) {
		if (more.items.length >= MORE_KEEP) break;
		if (x && x.id && !have.has(x.id)) {
			have.add(x.id);
			more.items.push(x);
		}
	}
	more.next = (Number(data.offset) || 0) + got.length;
	more.end = got.length === 0 || more.next >= (Number(data.count) || 0) || more.items.length >= MORE_KEEP;
	return more;
}

function turnFrom(player, deadlineIn, now) {
	return player ? { player, deadline: deadlineIn > 0 ? now + deadlineIn : 0 } : null;
}

function applyRoom(m, id, type, d, now) {
	const g = m.games[id] || (m.games[id] = newGame(id));
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
	case 'state':
		if (Array.isArray(d.board)) g.board = d.board;
		g.marks = d.marks || g.marks;
		g.result = d.result || null;
		if (d.state) g.state = d.state;
		g.turnTime = d.turn_time_s || 0;
		if (!d.turn) {
			g.turn = null;
		} else if (!g.turn || g.turn.player !== d.turn || d.deadline_ms) {
			// The snapshot's deadline is by the server's clock: the best
			// guess without a "turn" event.
			g.turn = { player: d.turn, deadline: d.deadline_ms || 0 };
		}
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
	case 'start':
		g.board = d.board || newGame(id).board;
		g.marks = d.marks || {};
		g.first = d.first;
		g.result = null;
		g.votes = {};
		g.lastMove = -1;
		break;
	case 'turn':
		g.turn = turnFrom(d.player && d.player.id, d.deadline_ms ? d.timeout_ms : 0, now);
		break;
	case 'move':
		if (Array.isArray(d.board)) g.board = d.board;
		g.lastMove = d.cell;
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
}

/**
 * active reports whether the player is (still) in the room: seated or
 * watching, and the room not closed.
 */
export function active(g) {
	return !!g && g.joined && !g.left && !g.closed && !g.kicked;
}
