// ttt.js — tictactoe's rules for the rooms client (rooms.js): the game's
// state of a room, built from the events tictactoe sends
// (examples/tictactoe/ttt): "start", "move" and the "state" snapshot.

/** GAME is the game's name for create and quick play. */
export const GAME = 'tictactoe';

/** rules are tictactoe's GameRules. */
export const rules = {
	/** @returns {{board: string[], marks: Record<string, string>, first: string|null, lastMove: number, turnTime: number}} */
	initial: () => ({
		board: ['', '', '', '', '', '', '', '', ''],
		marks: {}, // player id → 'X' | 'O'
		first: null,
		lastMove: -1,
		turnTime: 0, // the room's clock, in seconds
	}),
	/**
	 * @param {ReturnType<typeof rules.initial>} s
	 * @param {string} type
	 * @param {any} d
	 * @param {any} room the room's model (rooms.js)
	 */
	apply(s, type, d, room) {
		switch (type) {
		case 'state':
			if (Array.isArray(d.board)) s.board = d.board;
			s.marks = d.marks || s.marks;
			s.turnTime = d.turn_time_s || 0;
			room.result = d.result || null;
			if (d.state) room.state = d.state;
			if (!d.turn) {
				room.turn = null;
			} else if (!room.turn || room.turn.player !== d.turn || d.deadline_ms) {
				// The snapshot's deadline is by the server's clock: the best
				// guess without a "turn" event.
				room.turn = { player: d.turn, deadline: d.deadline_ms || 0 };
			}
			break;
		case 'start':
			s.board = d.board || rules.initial().board;
			s.marks = d.marks || {};
			s.first = d.first;
			s.lastMove = -1;
			room.result = null;
			room.votes = {};
			break;
		case 'move':
			if (Array.isArray(d.board)) s.board = d.board;
			s.lastMove = d.cell;
			break;
		}
	},
};
