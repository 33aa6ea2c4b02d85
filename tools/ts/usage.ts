// usage.ts — the declarations as a page uses them: a game's rules, the
// rooms client and the Comet client under them. It compiles only if the
// declarations hang together (check.ts holds them to the code).

import { CometClient, CometError, subjectMatches, type CometEvent } from '../../static/js/cometplay.js';
import { RoomsClient, active, type GameRules, type Room } from '../../static/js/rooms.js';

interface Heap {
	heap: number;
	took: { player: string; n: number }[];
}

const nim: GameRules<Heap> = {
	initial: () => ({ heap: 0, took: [] }),
	apply(s, type, d, room: Room<Heap>) {
		if (type === 'state') s.heap = d.heap;
		if (type === 'took') {
			s.heap = d.heap;
			s.took.push({ player: d.player, n: d.n });
		}
		if (type === 'finished') room.turn = null;
	},
};

export async function page(): Promise<number> {
	const rc = new RoomsClient<Heap>({ game: nim, comet: { transport: ['stream', 'poll'] }, currentRoom: () => null });
	const off = rc.on('enter', ({ room }) => {
		const g = rc.room(room);
		if (g && active(g) && !rc.pending(room)) rc.move(room, 'take', Math.min(3, g.game.heap)).catch((err: CometError) => err.code);
	});
	rc.on('notice', ({ text, kind }) => console.log(kind, text));
	if (!(await rc.resume(null))) await rc.play('Ann');
	const q = await rc.quickplay('nim');
	off();
	const c: CometClient | null = rc.comet;
	c?.on('event', (ev: CometEvent) => subjectMatches('/room', ev.p_subject || ''));
	return q.needed + (rc.model ? rc.model.onlineCount : 0);
}
