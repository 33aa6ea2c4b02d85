// lobby.js — the lobby view: who is online, the live room list, quick
// play, creating, joining and watching rooms, and the chat.

import { $, el, show, setText, setData, replaceChildrenKeepingFocus, reason, toast, time } from './ui.js';
import { active } from './model.js';

/** GAME is the game this site offers. */
export const GAME = 'tictactoe';

const STATE_TEXT = { waiting: 'Waiting', playing: 'Playing', finished: 'Finished' };
const STATE_ORDER = { waiting: 0, playing: 1, finished: 2 };

/** LobbyView renders the lobby part of the model and sends lobby actions. */
export class LobbyView {
	/** @param {import('./app.js').App} app */
	constructor(app) {
		this.app = app;
		this.roomsKey = null;
		this.onlineKey = null;
		this.gamesKey = null;
		this.chatKeys = [];

		$('quickplay').addEventListener('click', () => this.quickplay());
		$('qp-cancel').addEventListener('click', () => this.send('cancel-quickplay', {}));
		$('create-form').addEventListener('submit', (e) => {
			e.preventDefault();
			this.create();
		});
		$('chat-form').addEventListener('submit', (e) => {
			e.preventDefault();
			this.chat();
		});
		$('rooms').addEventListener('click', (e) => this.roomAction(e));
		$('my-games').addEventListener('click', (e) => {
			const b = e.target.closest('button[data-room]');
			if (b) this.app.navigate(b.dataset.room);
		});
	}

	// send performs a lobby action; a refusal is shown as a toast.
	async send(action, fields) {
		try {
			await this.app.lobby(action, fields);
			return true;
		} catch (err) {
			toast(reason(err.message), 'error');
			return false;
		}
	}

	async quickplay() {
		const b = $('quickplay');
		b.disabled = true;
		await this.send('quickplay', { game: GAME });
		b.disabled = false;
	}

	async create() {
		const turnText = $('create-turn').value.trim();
		const err = $('create-error');
		let options;
		if (turnText !== '') {
			const n = Number(turnText);
			if (!Number.isInteger(n) || n < 1 || n > 300) {
				setText(err, 'The turn clock is a whole number of seconds from 1 to 300 (or empty for none).');
				show(err, true);
				$('create-turn').focus();
				return;
			}
			options = JSON.stringify({ turn: String(n) });
		}
		show(err, false);
		const fields = { game: GAME };
		if (options) fields.options = options;
		const b = $('create-submit');
		b.disabled = true;
		if (await this.send('create', fields)) {
			$('create-turn').value = '';
		}
		b.disabled = false;
	}

	async chat() {
		const input = $('chat-input');
		const text = input.value.trim();
		const err = $('chat-error');
		if (!text) return;
		try {
			await this.app.lobby('chat', { text });
			input.value = '';
			show(err, false);
		} catch (e) {
			setText(err, reason(e.message));
			show(err, true);
		}
	}

	roomAction(e) {
		const b = e.target.closest('button[data-act]');
		if (!b) return;
		const room = b.dataset.room;
		switch (b.dataset.act) {
		case 'open':
			this.app.navigate(room);
			break;
		case 'join':
			this.app.enter(room, 'join');
			break;
		case 'watch':
			this.app.enter(room, 'spectate');
			break;
		}
	}

	/** render shows the lobby of model m. */
	render(m) {
		setText($('lobby-me'), m.me ? m.me.name : '');
		this.renderQueue(m);
		this.renderMyGames(m);
		this.renderRooms(m);
		this.renderOnline(m);
		this.renderChat(m);
	}

	renderQueue(m) {
		const q = m.queue;
		show($('qp-idle'), !q);
		show($('qp-waiting'), !!q);
		if (q) setText($('qp-text'), 'Looking for an opponent… (' + q.waiting + ' of ' + q.needed + ' players ready)');
	}

	renderMyGames(m) {
		const mine = Object.values(m.games).filter(active);
		const key = JSON.stringify(mine.map((g) => [g.id, g.spectator, g.players.map((p) => p.name), g.state]));
		if (key === this.gamesKey) return;
		this.gamesKey = key;
		const box = $('my-games');
		show(box, mine.length > 0);
		replaceChildrenKeepingFocus(box, mine.map((g) => {
			const others = g.players.filter((p) => !g.me || p.id !== g.me.id).map((p) => p.name);
			const text = g.spectator ? 'You are watching ' + (g.players.map((p) => p.name).join(' vs ') || 'a game') + '.' :
				others.length ? 'You are playing against ' + others.join(', ') + '.' : 'Your room is waiting for an opponent.';
			return el('p', { class: 'banner' }, text + ' ',
				el('button', { type: 'button', class: 'primary', text: g.spectator ? 'Back to the game' : 'Return to your game', dataset: { room: g.id, key: 'mine:' + g.id } }));
		}));
	}

	renderRooms(m) {
		const rooms = Object.values(m.rooms).sort((a, b) =>
			(STATE_ORDER[a.state] ?? 3) - (STATE_ORDER[b.state] ?? 3) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
		const mine = new Set(Object.values(m.games).filter(active).map((g) => g.id));
		const key = JSON.stringify([rooms, [...mine]]);
		if (key === this.roomsKey) return;
		this.roomsKey = key;
		setText($('rooms-count'), rooms.length ? '(' + rooms.length + ')' : '');
		show($('rooms-empty'), rooms.length === 0);
		replaceChildrenKeepingFocus($('rooms'), rooms.map((r) => this.roomItem(r, mine.has(r.id))));
	}

	roomItem(r, mine) {
		const players = [...(r.players || [])].sort((a, b) => a.seat - b.seat);
		const names = el('span', { class: 'room-players' });
		players.forEach((p, i) => {
			if (i > 0) names.append(' vs ');
			names.append(el('span', { class: p.connected ? 'name' : 'name away', text: p.name, title: p.connected ? undefined : 'reconnecting' }));
		});
		if (players.length < r.max_players) {
			if (players.length) names.append(' vs ');
			names.append(el('span', { class: 'muted', text: 'open seat' }));
		}
		const actions = el('span', { class: 'room-actions' });
		const btn = (act, text, cls) => el('button', { type: 'button', class: cls || '', text, dataset: { act, room: r.id, key: r.id + ':' + act } });
		if (mine) {
			actions.append(btn('open', 'Open', 'primary'));
		} else {
			if (r.state === 'waiting' && !r.locked) actions.append(btn('join', 'Join', 'primary'));
			actions.append(btn('watch', 'Watch'));
		}
		const li = el('li', { class: 'room', dataset: { room: r.id, state: r.state } },
			el('span', { class: 'room-head' },
				el('span', { class: 'room-label', text: r.label || 'Tictactoe' }),
				el('span', { class: 'badge ' + r.state, text: STATE_TEXT[r.state] || r.state })),
			names,
			r.spectators ? el('span', { class: 'muted room-watchers', text: r.spectators + ' watching' }) : null,
			actions);
		return li;
	}

	renderOnline(m) {
		const online = [...m.online].sort((a, b) => a.name.localeCompare(b.name) || (a.id < b.id ? -1 : 1));
		const key = JSON.stringify([online, m.me && m.me.id]);
		if (key === this.onlineKey) return;
		this.onlineKey = key;
		setText($('online-count'), '(' + online.length + ')');
		$('online').replaceChildren(...online.map((p) =>
			el('li', { dataset: { player: p.id } }, el('span', { class: 'name', text: p.name }),
				m.me && p.id === m.me.id ? el('span', { class: 'muted', text: ' (you)' }) : null)));
	}

	renderChat(m) {
		const log = $('chat-log');
		const keys = m.chat.map((c) => c.ts + '|' + (c.from && c.from.id) + '|' + c.text);
		const lastKey = this.chatKeys[this.chatKeys.length - 1];
		let from = 0;
		if (lastKey !== undefined) {
			const i = keys.lastIndexOf(lastKey);
			if (i < 0) log.replaceChildren(); // another model (a new session): start over
			else from = i + 1;
		}
		const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 24;
		for (const c of m.chat.slice(from)) {
			log.append(el('li', {},
				el('time', { class: 'muted', text: time(c.ts), dateTime: new Date(c.ts).toISOString() }), ' ',
				el('span', { class: 'name', text: (c.from && c.from.name) || '?' }), ': ',
				el('span', { class: 'text', text: c.text })));
		}
		while (log.children.length > m.chat.length) log.firstElementChild.remove();
		this.chatKeys = keys;
		setData(log, { count: m.chat.length });
		show($('chat-empty'), m.chat.length === 0);
		if (atBottom) log.scrollTop = log.scrollHeight;
	}
}
