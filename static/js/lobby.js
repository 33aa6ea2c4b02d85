// lobby.js — the lobby view: who is online, the live room list, quick
// play, creating, joining and watching rooms, and the chat.
//
// The server keeps the first players online and the first rooms (its
// -lobby-shown of each) up to date, with the totals; "Show more" pages in
// the rest with the "list" action, below them, as a snapshot this tab keeps
// for itself (up to MORE_KEEP entries) and refreshes on demand.

import { $, el, show, setText, setData, replaceChildrenKeepingFocus, reason, toast, time } from './ui.js';
import { active, shownRooms } from './rooms.js';
import { GAME } from './ttt.js';

/**
 * MORE_KEEP bounds the entries a list paged in with "Show more" keeps
 * (rooms, or players), beyond the ones the lobby keeps up to date.
 */
export const MORE_KEEP = 1000;

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

const STATE_TEXT = { waiting: 'Waiting', playing: 'Playing', finished: 'Finished' };

// The two lists that page: the "list" action's what → the ids' prefix and
// the words of their texts.
const LISTS = {
	rooms: { prefix: 'rooms', noun: 'room', nouns: 'rooms' },
	players: { prefix: 'online', noun: 'player', nouns: 'players' },
};

// LOAD_PAGES bounds the pages one press of Show more or Refresh asks for.
const LOAD_PAGES = 20;

/** count formats a number as "5,234". */
function count(n) {
	return n.toLocaleString('en-US');
}

/** LobbyView renders the lobby part of the model and sends lobby actions. */
export class LobbyView {
	/** @param {import('./app.js').App} app */
	constructor(app) {
		this.app = app;
		this.roomsKey = null;
		this.onlineKey = null;
		this.gamesKey = null;
		this.chatKeys = [];
		this.otherTabs = null; // the player's other tabs, asked once per wait in the queue
		this.more = { rooms: emptyMore(), players: emptyMore() }; // paged in by this tab
		this.loading = { rooms: false, players: false };
		this.moreKeys = { rooms: null, players: null };
		this.pagingKeys = { rooms: null, players: null };

		$('quickplay').addEventListener('click', () => this.quickplay());
		$('qp-cancel').addEventListener('click', () => this.send(() => this.app.rc.cancelQuickplay()));
		$('create-form').addEventListener('submit', (e) => {
			e.preventDefault();
			this.create();
		});
		$('chat-form').addEventListener('submit', (e) => {
			e.preventDefault();
			this.chat();
		});
		$('rooms').addEventListener('click', (e) => this.roomAction(e));
		$('rooms-more-list').addEventListener('click', (e) => this.roomAction(e));
		for (const what of Object.keys(LISTS)) {
			const p = LISTS[what].prefix;
			$(p + '-show-more').addEventListener('click', () => this.load(what, false));
			$(p + '-refresh').addEventListener('click', () => this.load(what, true));
		}
		$('rename-open').addEventListener('click', () => this.openRename(true));
		$('rename-cancel').addEventListener('click', () => this.openRename(false));
		$('rename-form').addEventListener('submit', (e) => {
			e.preventDefault();
			this.rename();
		});
		$('sign-out').addEventListener('click', () => this.app.signOut());
		$('my-games').addEventListener('click', (e) => {
			const b = e.target.closest('button[data-room]');
			if (b) this.app.navigate(b.dataset.room);
		});
	}

	// send performs a lobby request; a refusal is shown as a toast.
	async send(request) {
		try {
			await request();
			return true;
		} catch (err) {
			toast(reason(err.message), 'error');
			return false;
		}
	}

	// openRename shows (or hides) the form that changes the player's name.
	openRename(open) {
		const form = $('rename-form');
		show(form, open);
		show($('who'), !open);
		show($('rename-error'), false);
		if (open) {
			const input = $('rename-input');
			input.value = (this.app.rc.model && this.app.rc.model.me && this.app.rc.model.me.name) || '';
			input.focus();
			input.select();
		} else {
			$('rename-open').focus();
		}
	}

	async rename() {
		const input = $('rename-input');
		const err = $('rename-error');
		const name = input.value.trim();
		if (!name) {
			setText(err, 'Please enter a name.');
			show(err, true);
			return;
		}
		const b = $('rename-submit');
		b.disabled = true;
		try {
			await this.app.rc.rename(name);
			this.openRename(false);
		} catch (e) {
			setText(err, reason(e.message));
			show(err, true);
			input.focus();
		} finally {
			b.disabled = false;
		}
	}

	async quickplay() {
		const b = $('quickplay');
		b.disabled = true;
		await this.send(() => this.app.rc.quickplay(GAME));
		b.disabled = false;
	}

	async create() {
		const turnText = $('create-turn').value.trim();
		const err = $('create-error');
		let options;
		if (turnText !== '') {
			// Digits only: Number would take "1e2" or "0x1f" for a number.
			const n = /^[0-9]{1,3}$/.test(turnText) ? Number(turnText) : NaN;
			if (!Number.isInteger(n) || n < 1 || n > 300) {
				setText(err, 'The turn clock is a whole number of seconds from 1 to 300 (or empty for none).');
				show(err, true);
				$('create-turn').focus();
				return;
			}
			options = { turn: String(n) };
		}
		show(err, false);
		const b = $('create-submit');
		b.disabled = true;
		if (await this.send(() => this.app.rc.create(GAME, options))) {
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
			await this.app.rc.chat(text);
			input.value = '';
			show(err, false);
		} catch (e) {
			setText(err, reason(e.message));
			show(err, true);
		}
	}

	/** resetMore forgets the lists paged in (a new session: they are of another). */
	resetMore() {
		this.more = { rooms: emptyMore(), players: emptyMore() };
	}

	/**
	 * load pages in the next entries of a list (what: rooms or players)
	 * after those shown; with refresh, fetches again as many as were paged
	 * in, from the end of the shown list. The pages replace the list paged
	 * in when they all came.
	 */
	async load(what, refresh) {
		if (this.loading[what] || !this.app.rc.model) return;
		const old = this.more[what];
		const more = refresh ? emptyMore() : { ...old, items: [...old.items], end: false };
		const want = refresh ? Math.max(1, old.items.length) : old.items.length + 1;
		const { prefix } = LISTS[what];
		const button = $(prefix + (refresh ? '-refresh' : '-show-more'));
		const hadFocus = document.activeElement === button;
		this.loading[what] = true;
		this.app.render();
		try {
			for (let n = 0; n < LOAD_PAGES && more.items.length < want && !more.end; n++) {
				const m = this.app.rc.model;
				const shown = what === 'rooms' ? Object.keys(m.rooms).length : m.online.length;
				const offset = more.items.length ? more.next : Math.max(shown, more.next);
				const page = await this.app.rc.list(what, offset);
				if (this.more[what] !== old) return; // forgotten meanwhile (a new session)
				addPage(more, page, Date.now());
			}
			this.more[what] = more;
		} catch (err) {
			if (err.code !== 'closed') toast(reason(err.message), 'error');
		} finally {
			this.loading[what] = false;
			this.app.renderNow();
		}
		// A keyboard user stays at the list: on the button, or, once it is
		// gone (the end of the list), on the heading of what was paged in.
		if (hadFocus && document.activeElement !== button) {
			const title = $(prefix + '-more-title');
			if (!title.closest('[hidden]')) title.focus();
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
		const err = $('qp-error');
		setText(err, m.queueError ? reason(m.queueError) : '');
		show(err, !q && !!m.queueError);
		if (!q) {
			this.otherTabs = null;
			return;
		}
		setText($('qp-text'), 'Looking for an opponent… (' + q.waiting + ' of ' + q.needed + ' players ready)');
		if (this.otherTabs === null) {
			// Other windows of this player are not opponents: say so, so
			// that nobody waits for one of them.
			this.otherTabs = 0;
			this.app.rc.otherTabs().then((n) => {
				if (this.otherTabs === null) return;
				this.otherTabs = n;
				this.app.render();
			});
		}
		const same = $('qp-same');
		show(same, this.otherTabs > 0);
		setText(same, 'Your other ' + (this.otherTabs === 1 ? 'window' : 'windows') + ' in this browser ' + (this.otherTabs === 1 ? 'is ' : 'are ') +
			(m.me ? m.me.name : 'you') + ' too, not an opponent. To play against yourself, open a window and enter another name.');
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
		const rooms = shownRooms(m);
		const mine = new Set(Object.values(m.games).filter(active).map((g) => g.id));
		const key = JSON.stringify([rooms, [...mine]]);
		if (key !== this.roomsKey) {
			this.roomsKey = key;
			replaceChildrenKeepingFocus($('rooms'), rooms.map((r) => this.roomItem(r, mine.has(r.id))));
		}
		const extra = this.extra('rooms', rooms);
		const moreKey = JSON.stringify([extra, [...mine], this.more.rooms.at]);
		if (moreKey !== this.moreKeys.rooms) {
			this.moreKeys.rooms = moreKey;
			replaceChildrenKeepingFocus($('rooms-more-list'), extra.map((r) => this.roomItem(r, mine.has(r.id))));
		}
		const total = Math.max(m.roomsCount || 0, rooms.length);
		setText($('rooms-count'), total ? '(' + count(total) + ')' : '');
		show($('rooms-empty'), total === 0 && extra.length === 0);
		this.renderPaging('rooms', rooms.length, extra.length, total);
	}

	// extra returns the entries of a list paged in that the shown list
	// does not have (it is live; they are a snapshot).
	extra(what, shown) {
		const ids = new Set(shown.map((x) => x.id));
		return this.more[what].items.filter((x) => !ids.has(x.id));
	}

	// renderPaging shows how much of a list the page shows, the part paged
	// in and the buttons: "Showing 30 of 5,234 rooms", Show more, Refresh.
	renderPaging(what, shown, extra, total) {
		const { prefix, noun, nouns } = LISTS[what];
		const more = this.more[what];
		const loading = this.loading[what];
		const key = JSON.stringify([shown, extra, total, more.at, more.end, more.items.length, loading]);
		if (key === this.pagingKeys[what]) return;
		this.pagingKeys[what] = key;
		show($(prefix + '-more'), extra > 0);
		if (extra > 0) {
			setText($(prefix + '-more-when'), 'As of ' + time(more.at) + '; not updated live.');
		}
		const n = shown + extra;
		const paging = $(prefix + '-paging');
		setData(paging, { shown: n, total });
		show(paging, n < total);
		const full = more.items.length >= MORE_KEEP;
		setText($(prefix + '-shown'), 'Showing ' + count(n) + ' of ' + count(total) + ' ' + (total === 1 ? noun : nouns) +
			(full ? ', as many as this page keeps' : '') + '.');
		const button = $(prefix + '-show-more');
		show(button, !full && !(more.end && more.next >= total));
		setText(button, loading ? 'Loading…' : 'Show more ' + nouns);
		const refresh = $(prefix + '-refresh');
		setText(refresh, loading ? 'Loading…' : 'Refresh');
		for (const b of [button, refresh]) b.setAttribute('aria-disabled', String(loading));
		$(prefix + '-more').setAttribute('aria-busy', String(loading));
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
		const online = m.online; // in the lobby's order
		const me = m.me && m.me.id;
		const item = (p) => el('li', { dataset: { player: p.id } }, el('span', { class: 'name', text: p.name }),
			p.id === me ? el('span', { class: 'muted', text: ' (you)' }) : null);
		const key = JSON.stringify([online, me]);
		if (key !== this.onlineKey) {
			this.onlineKey = key;
			$('online').replaceChildren(...online.map(item));
		}
		const extra = this.extra('players', online);
		const moreKey = JSON.stringify([extra, me, this.more.players.at]);
		if (moreKey !== this.moreKeys.players) {
			this.moreKeys.players = moreKey;
			$('online-more-list').replaceChildren(...extra.map(item));
		}
		const total = Math.max(m.onlineCount || 0, online.length);
		setText($('online-count'), '(' + count(total) + ')');
		this.renderPaging('players', online.length, extra.length, total);
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
			log.append(el('li', { dataset: c.earlier ? { earlier: 'true' } : {} },
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
