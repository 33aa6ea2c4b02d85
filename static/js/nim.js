// nim.js — the browser half of docs/ROOMS.md's Nim (rooms/example/nim):
// nim.html's script. The rooms client (rooms.js) does the rest: the player
// and its seat, the lobby, move ids and sequence numbers, reconnection.
import { RoomsClient, active } from './rooms.js';

// rules build a room's Nim from the game's events: its snapshot ("state"),
// a new heap ("heap", at the start and on a rematch) and each take ("took").
const rules = {
	initial: () => ({ heap: 0, took: [] }),
	apply(nim, type, d) {
		if (type === 'state' || type === 'heap') nim.took = [];
		if (type === 'state' || type === 'heap' || type === 'took') nim.heap = d.heap;
		if (type === 'took') nim.took.push({ player: d.player, n: d.n });
	},
};

const rc = new RoomsClient({ game: rules });
const $ = (id) => document.getElementById(id);
const say = (err) => { $('notice').textContent = err ? err.message || err.text : ''; };
// game returns the room the player is in (seated and the room open), if any.
const game = () => rc.model && Object.values(rc.model.games).find(active);

rc.on('change', render);
rc.on('notice', say);
$('pick').addEventListener('submit', (e) => {
	e.preventDefault();
	rc.play($('name').value);
});
$('quickplay').addEventListener('click', () => rc.quickplay('nim').catch(say));
for (const n of [1, 2, 3]) {
	$('take' + n).addEventListener('click', () => rc.move(game().id, 'take', n).then(() => say(null), say));
}
$('rematch').addEventListener('click', () => rc.rematch(game().id).catch(say));
$('leave').addEventListener('click', () => rc.leave(game().id).catch(say));
rc.resume().then(render);

function render() {
	const g = game();
	document.body.dataset.status = rc.status;
	$('pick').hidden = rc.status !== 'idle' && rc.status !== 'failed';
	$('name-error').textContent = rc.status === 'failed' ? rc.helloError : '';
	$('lobby').hidden = rc.status !== 'ready' || !!g;
	$('game').hidden = !g;
	const q = rc.model && rc.model.queue;
	$('queue').textContent = q ? 'Waiting for an opponent: ' + q.waiting + ' of ' + q.needed + ' players ready.' : '';
	if (!g) return;
	const name = (id) => (id === g.me.id ? 'You' : g.names[id] || 'Someone');
	const myTurn = g.state === 'playing' && !!g.turn && g.turn.player === g.me.id;
	const pending = rc.pending(g.id); // shown at once, before the room's ack
	const heap = g.game.heap - (pending ? pending.data : 0);
	$('game').dataset.state = g.state;
	$('game').dataset.turn = myTurn ? 'me' : g.turn ? 'other' : 'none';
	$('heap').textContent = heap + (heap === 1 ? ' stone' : ' stones') + ' left';
	$('turn').textContent = g.state === 'waiting' ? 'Waiting for an opponent…' :
		g.state === 'finished' ? name(g.result.winner) + (g.result.winner === g.me.id ? ' win!' : ' wins.') :
			pending ? 'Sending your move…' : myTurn ? 'Your turn.' : name(g.turn && g.turn.player) + ' to move.';
	for (const n of [1, 2, 3]) $('take' + n).disabled = !myTurn || !!pending || n > heap;
	$('log').replaceChildren(...g.game.took.map((t) => {
		const li = document.createElement('li');
		li.textContent = name(t.player) + ' took ' + t.n + '.';
		return li;
	}));
	$('rematch').hidden = g.state !== 'finished';
	$('rematch').disabled = !!g.votes[g.me.id];
}
