// game.js — the game view: the board, whose turn, the clock, the result
// with the winning line, rematch, the opponent's connection, and the
// spectator's view (both names, no playable cells).

import { $, el, show, setText, setData, reason, clock, toast } from './ui.js';
import { active } from './rooms.js';

const WHY = {
	timeout: ' ran out of time',
	left: ' left the game',
	dropped: ' lost the connection',
	kicked: ' was removed',
};

// SHUTDOWN is what a game the server stopped shows: it ended without a
// winner (result {reason: "shutdown"}), and the room closed.
const SHUTDOWN = 'The server is restarting: the game ended without a result.';

// CLOSED says why a room closed, by the runtime's reason (closed {reason}).
const CLOSED = {
	'room closed': 'This room has closed.',
	'room empty': 'This room has closed: everyone left.',
	'server shutting down': 'This room has closed: the server is restarting.',
	'internal error in room': 'This room has closed after an error on the server.',
};

/** GameView renders one room of the model and sends the player's moves. */
export class GameView {
	/** @param {import('./app.js').App} app */
	constructor(app) {
		this.app = app;
		this.room = null;
		this.confirmLeave = false;
		const board = $('board');
		this.cells = [];
		for (let i = 0; i < 9; i++) {
			const b = el('button', { type: 'button', class: 'cell', dataset: { cell: i, mark: '' } });
			board.append(b);
			this.cells.push(b);
		}
		board.addEventListener('click', (e) => {
			const b = e.target.closest('button.cell');
			if (b) this.play(Number(b.dataset.cell));
		});
		board.addEventListener('keydown', (e) => this.arrows(e));
		$('rematch').addEventListener('click', () => this.app.rc.rematch(this.room).catch((err) => toast(reason(err.message), 'error')));
		$('leave').addEventListener('click', () => this.leave());
		$('leave-cancel').addEventListener('click', () => {
			this.confirmLeave = false;
			this.render(this.app.rc.model, this.room);
			$('leave').focus();
		});
		for (const id of ['back-lobby', 'notice-lobby']) $(id).addEventListener('click', () => this.app.navigate(null));
		$('choice-join').addEventListener('click', () => this.app.enter(this.room, 'join'));
		$('choice-watch').addEventListener('click', () => this.app.enter(this.room, 'spectate'));
		setInterval(() => this.tick(), 250);
	}

	game() {
		return this.app.rc.room(this.room);
	}

	// canPlay reports whether the player may mark cell i now.
	canPlay(g, i) {
		return active(g) && !g.spectator && g.state === 'playing' && !!g.turn && !!g.me &&
			g.turn.player === g.me.id && !g.game.board[i] && !this.app.rc.pending(g.id);
	}

	play(i) {
		const g = this.game();
		if (!this.canPlay(g, i)) return;
		this.app.rc.move(g.id, 'move', { cell: i }).catch((err) => {
			if (err.code !== 'closed') toast(reason(err.message), 'error');
		});
	}

	// arrows moves the focus over the board with the arrow keys, Home and End.
	arrows(e) {
		const i = this.cells.indexOf(document.activeElement);
		if (i < 0) return;
		let j = i;
		switch (e.key) {
		case 'ArrowLeft': j = i % 3 > 0 ? i - 1 : i; break;
		case 'ArrowRight': j = i % 3 < 2 ? i + 1 : i; break;
		case 'ArrowUp': j = i >= 3 ? i - 3 : i; break;
		case 'ArrowDown': j = i < 6 ? i + 3 : i; break;
		case 'Home': j = i - (i % 3); break;
		case 'End': j = i - (i % 3) + 2; break;
		default: return;
		}
		e.preventDefault();
		this.cells[j].focus();
	}

	leave() {
		const g = this.game();
		if (!g) return;
		if (!g.spectator && g.state === 'playing' && !this.confirmLeave) {
			this.confirmLeave = true;
			this.render(this.app.rc.model, this.room);
			$('leave').focus();
			return;
		}
		this.confirmLeave = false;
		this.app.leaveRoom(g.id);
	}

	/** render shows room of model m. */
	render(m, room) {
		if (room !== this.room) {
			this.room = room;
			this.confirmLeave = false;
		}
		const g = m ? m.games[room] : null;
		const info = m ? m.rooms[room] : null;
		setText($('game-title'), (info && info.label) || 'Tictactoe');
		const box = $('game');
		if (!active(g)) {
			this.renderAway(m, g, info);
			return;
		}
		show($('game-away'), false);
		show($('game-main'), true);

		const me = g.me;
		const myMark = !g.spectator && me ? g.game.marks[me.id] || null : null;
		const myTurn = !!(g.turn && me && g.turn.player === me.id && !g.spectator);
		const opponents = g.players.filter((p) => !me || p.id !== me.id);
		const result = g.state === 'finished' && g.result ? this.outcome(g) : null;
		setData(box, {
			state: g.state,
			role: g.spectator ? 'spectator' : 'player',
			mark: myMark,
			turn: g.state !== 'playing' || !g.turn ? 'none' : myTurn ? 'me' : 'opponent',
			result: result ? result.kind : null,
		});

		this.renderPlayers(g);
		setText($('turn'), this.turnText(g, myMark, myTurn, opponents));
		document.title = (myTurn ? 'Your turn · ' : '') + 'cometplay tictactoe';

		const line = g.result && Array.isArray(g.result.line) ? g.result.line : [];
		// The player's own move shows at once, tentative until the room
		// applied it.
		const pending = this.app.rc.pending(g.id);
		this.cells.forEach((b, i) => {
			const tentative = !g.game.board[i] && !!pending && pending.data.cell === i && !!myMark;
			const mark = g.game.board[i] || (tentative ? myMark : '');
			if (b.textContent !== mark) b.textContent = mark;
			setData(b, { mark, tentative: tentative ? 'true' : null, win: line.includes(i) ? 'true' : null, last: g.game.lastMove === i ? 'true' : null });
			const where = 'Row ' + (Math.floor(i / 3) + 1) + ', column ' + (i % 3 + 1) + ': ' +
				(mark || 'empty') + (tentative ? ', sending' : '') + (line.includes(i) ? ', winning line' : '');
			if (b.getAttribute('aria-label') !== where) b.setAttribute('aria-label', where);
			// Spectators get no playable cells at all; players keep focusable
			// cells (arrow keys) that say when they cannot be played.
			b.disabled = g.spectator;
			const playable = this.canPlay(g, i);
			b.setAttribute('aria-disabled', playable ? 'false' : 'true');
		});
		setData($('board'), { playable: this.cells.some((_, i) => this.canPlay(g, i)) ? 'true' : 'false' });

		const resultEl = $('result');
		const shown = !resultEl.hidden;
		show(resultEl, !!result);
		show($('turn'), !result); // the result says it
		if (result) {
			setText($('result-text'), result.text);
			this.renderRematch(g, opponents);
			// A player who scrolled down to the board sees how it ended.
			if (!shown) resultEl.scrollIntoView({ block: 'nearest' });
		}
		this.renderLeave(g);
		this.tick();
	}

	renderAway(m, g, info) {
		show($('game-main'), false);
		show($('game-away'), true);
		let text;
		let join = false;
		let watch = false;
		if (g && g.joined && (g.closed || g.kicked || g.left)) {
			const stopped = g.closed && g.result && g.result.reason === 'shutdown' && !g.result.winner;
			text = stopped ? SHUTDOWN :
				g.closed ? CLOSED[g.closed] || 'This room has closed: ' + reason(g.closed).toLowerCase() + '.' :
					g.kicked ? 'You are no longer in this room: ' + reason(g.kicked).toLowerCase() + '.' :
						g.left === 'left' ? 'You left this room.' : 'You are no longer in this room (' + g.left + ').';
		} else if (this.app.rc.joining === this.room) {
			text = 'Joining the room…';
		} else if (g && g.rejected) {
			text = 'Could not enter this room: ' + reason(g.rejected).toLowerCase() + '.';
			watch = !!info;
		} else if (!m || !m.me) {
			text = 'Connecting…';
		} else if (!info) {
			text = 'This room is not open: its game is over, or it does not exist.';
		} else {
			const names = (info.players || []).map((p) => p.name);
			text = info.state === 'waiting' ? (names.length ? names.join(' and ') + ' is waiting for an opponent.' : 'This room is waiting for players.') :
				names.join(' vs ') + (info.state === 'playing' ? ' are playing.' : ' have finished.');
			join = info.state === 'waiting' && !info.locked;
			watch = true;
		}
		setData($('game'), { state: 'away', role: null, mark: null, turn: 'none', result: null });
		setText($('game-notice'), text);
		show($('choice-join'), join);
		show($('choice-watch'), watch);
		document.title = 'cometplay tictactoe';
	}

	renderPlayers(g) {
		const me = g.me;
		// The players of this game who left its seats (by their marks).
		const gone = Object.keys(g.game.marks).filter((id) => !g.players.some((p) => p.id === id));
		const items = [0, 1].map((seat) => {
			const p = g.players.find((x) => x.seat === seat);
			if (!p && g.state !== 'waiting') {
				// Nobody joins a game under way or over: say who left.
				const id = gone.shift();
				const mark = id ? g.game.marks[id] : '';
				return el('li', { class: 'player empty', dataset: { seat, mark } },
					el('span', { class: 'mark', dataset: { mark }, text: mark || '·', attrs: { 'aria-hidden': 'true' } }),
					el('span', { class: 'name muted', text: id ? (g.names[id] || 'Your opponent') + ' (left)' : 'Empty seat' }));
			}
			if (!p) {
				return el('li', { class: 'player empty', dataset: { seat } },
					el('span', { class: 'mark', text: '?', attrs: { 'aria-hidden': 'true' } }),
					el('span', { class: 'name muted', text: 'Waiting for a player…' }));
			}
			const mark = g.game.marks[p.id] || '';
			const turn = g.state === 'playing' && g.turn && g.turn.player === p.id;
			return el('li', { class: 'player' + (turn ? ' active' : ''), dataset: { seat, player: p.id, mark } },
				el('span', { class: 'mark', dataset: { mark }, text: mark || '·', attrs: { 'aria-label': mark ? 'plays ' + mark : 'no mark yet' } }),
				el('span', { class: 'name', text: p.name }),
				me && p.id === me.id && !g.spectator ? el('span', { class: 'muted', text: ' (you)' }) : null,
				p.connected ? null : el('span', { class: 'away-tag', text: 'reconnecting…' }),
				turn ? el('span', { class: 'sr-only', text: ', to move' }) : null);
		});
		const key = JSON.stringify([g.players, g.game.marks, g.turn && g.turn.player, g.state, g.spectator]);
		const list = $('players');
		if (list.dataset.key !== key) {
			list.dataset.key = key;
			list.replaceChildren(...items);
		}
	}

	turnText(g, myMark, myTurn, opponents) {
		const name = (id) => g.names[id] || 'Someone';
		const markOf = (id) => g.game.marks[id] ? ' (' + g.game.marks[id] + ')' : '';
		switch (g.state) {
		case 'waiting':
			return g.spectator ? 'Waiting for the players…' : 'Waiting for an opponent. Invite someone: send them this page’s address.';
		case 'playing':
			if (!g.turn) return 'Playing.';
			if (g.spectator) return name(g.turn.player) + '’s turn' + markOf(g.turn.player) + '.';
			if (myTurn) return this.app.rc.pending(g.id) ? 'Sending your move…' : 'Your turn — you play ' + myMark + '.';
			return name(g.turn.player) + '’s turn. You play ' + (myMark || '?') + '.';
		case 'finished':
			return 'Game over.';
		}
		return '';
	}

	// outcome describes the result: kind (win, loss, draw, over) and text.
	outcome(g) {
		const r = g.result;
		const name = (id) => g.names[id] || 'Someone';
		const myId = g.me && !g.spectator ? g.me.id : null;
		const loserId = Object.keys(g.game.marks).find((id) => id !== r.winner);
		const why = WHY[r.reason] ? name(loserId) + WHY[r.reason] : '';
		if (r.draw) return { kind: 'draw', text: 'It’s a draw.' };
		if (!r.winner) return { kind: 'over', text: r.reason === 'shutdown' ? SHUTDOWN : 'Game over.' };
		if (!myId) {
			return { kind: 'over', text: name(r.winner) + (r.mark ? ' (' + r.mark + ')' : '') + ' wins' + (why ? ': ' + why : '') + '.' };
		}
		if (r.winner === myId) return { kind: 'win', text: r.reason === 'line' ? 'You win!' : 'You win: ' + why + '.' };
		if (r.reason === 'timeout') return { kind: 'loss', text: 'You ran out of time. ' + name(r.winner) + ' wins.' };
		return { kind: 'loss', text: name(r.winner) + ' wins.' };
	}

	renderRematch(g, opponents) {
		const btn = $('rematch');
		const status = $('rematch-status');
		if (g.spectator) {
			show(btn, false);
			setText(status, Object.keys(g.votes).length ? 'A rematch was asked for.' : '');
			return;
		}
		const opp = opponents[0];
		if (!opp) {
			show(btn, false);
			setText(status, 'Your opponent left. Go back to the lobby for a new game.');
			return;
		}
		show(btn, true);
		const mine = !!g.votes[g.me.id];
		const theirs = !!g.votes[opp.id];
		btn.disabled = mine;
		setText(btn, mine ? 'Rematch asked' : theirs ? 'Accept rematch' : 'Rematch');
		setText(status, mine ? 'Waiting for ' + opp.name + ' to accept…' : theirs ? opp.name + ' wants a rematch!' : '');
	}

	renderLeave(g) {
		const btn = $('leave');
		const confirming = this.confirmLeave && !g.spectator && g.state === 'playing';
		setText(btn, g.spectator ? 'Stop watching' : confirming ? 'Yes, resign and leave' : g.state === 'playing' ? 'Resign' : 'Leave room');
		btn.classList.toggle('danger', confirming);
		show($('leave-cancel'), confirming);
		show($('leave-warning'), confirming);
	}

	// tick updates what changes with time: the turn clock and the
	// opponent's reconnect countdown.
	tick() {
		const g = this.game();
		const clockEl = $('clock');
		const now = Date.now();
		if (!active(g) || g.state !== 'playing' || !g.turn || !g.turn.deadline) {
			show(clockEl, false);
		} else {
			const left = g.turn.deadline - now;
			const mine = g.me && g.turn.player === g.me.id && !g.spectator;
			show(clockEl, true);
			setText($('clock-who'), mine ? 'Your time' : (g.names[g.turn.player] || 'Their') + '’s time');
			setText($('clock-time'), clock(left));
			setData(clockEl, { low: left < 5000 ? 'true' : 'false' });
		}
		const statusEl = $('opponent-status');
		const dropped = active(g) ? Object.entries(g.dropped).filter(([id]) => g.spectator || !g.me || id !== g.me.id) : [];
		show(statusEl, dropped.length > 0);
		if (dropped.length) {
			const [id, until] = dropped[0];
			setText($('opponent-text'), (g.names[id] || 'Your opponent') + ' is reconnecting…');
			setText($('opponent-time'), 'The seat is kept for ' + clock(until - now) + '.');
		}
	}
}
