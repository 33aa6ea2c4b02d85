// model.js — what one Comet session knows, built from the events the
// server pushed to it (docs/ROOMS.md, "What the browser sees"). It is plain
// data (JSON-safe), so a tab that opens later can take a copy from another
// tab of the same session and continue from there.

/** CHAT_KEEP bounds the chat lines kept. */
const CHAT_KEEP = 100;

/**
 * emptyModel returns the model of a session that has heard nothing yet.
 * @param {string} session the session's public id
 */
export function emptyModel(session) {
	return {
		session,
		seq: 0, // the last session event applied
		me: null, // {id, name} once welcomed
		online: [], // [{id, name}]
		rooms: {}, // RoomInfo by id
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
		m.online = d.online || [];
		break;
	case '/lobby rooms':
		m.rooms = {};
		for (const r of d.rooms || []) m.rooms[r.id] = r;
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
	case '/lobby/presence online':
		if (!m.online.some((p) => p.id === d.player.id)) m.online = [...m.online, d.player];
		break;
	case '/lobby/presence offline':
		m.online = m.online.filter((p) => p.id !== d.player.id);
		break;
	case '/lobby/presence renamed':
		m.online = m.online.map((p) => p.id === d.player.id ? d.player : p);
		if (m.me && m.me.id === d.player.id) m.me = d.player;
		break;
	case '/lobby/rooms room':
		m.rooms[d.room.id] = d.room;
		break;
	case '/lobby/rooms room-removed':
		delete m.rooms[d.id];
		break;
	case '/lobby/chat chat':
		m.chat.push({ from: d.from, text: d.text, ts: d.ts });
		if (m.chat.length > CHAT_KEEP) m.chat.splice(0, m.chat.length - CHAT_KEEP);
		break;
	}
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
