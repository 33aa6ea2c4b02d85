// app.js — the cometplay tictactoe site: one page with three views (choose
// a name, the lobby, a game). The player, its session, the lobby's requests,
// moves and the model of what the session knows are the rooms client's
// (rooms.js); tictactoe's own state is built by its rules (ttt.js). This
// file shows the views and follows the URL.
//
// URL parameters: room=<id> shows that room; transport=stream|sse|long-poll|
// poll|iframe forces a transport (default: automatic).

import { RoomsClient } from './rooms.js';
import { rules } from './ttt.js';
import { LobbyView } from './lobby.js';
import { GameView } from './game.js';
import { $, el, show, setText, setData, toast, reason } from './ui.js';

const ALL_TRANSPORTS = ['stream', 'sse', 'long-poll', 'poll', 'iframe'];

const STATE_TEXT = {
	idle: 'Not connected',
	connecting: 'Connecting…',
	connected: 'Connected',
	reconnecting: 'Reconnecting…',
	closed: 'Offline',
};

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
		this.rc = new RoomsClient({ game: rules, comet: { transport: transportOption() }, currentRoom });
		this.view = null;
		this.nameError = ''; // the name form's own complaint
		this.renderQueued = false;
		this.lobbyView = new LobbyView(this);
		this.gameView = new GameView(this);
		const rc = this.rc;
		rc.on('change', () => this.render());
		rc.on('enter', ({ room }) => this.navigate(room));
		rc.on('notice', ({ text, kind }) => toast(reason(text), kind));
		rc.on('session', () => this.lobbyView.resetMore());

		$('name-form').addEventListener('submit', (e) => {
			e.preventDefault();
			this.chooseName();
		});
		$('continue-list').addEventListener('click', (e) => {
			const b = /** @type {HTMLElement} */ (e.target).closest('button[data-profile]');
			if (b) this.startClient(() => rc.continueAs(b.dataset.profile));
		});
		$('home-link').addEventListener('click', (e) => {
			e.preventDefault();
			this.navigate(null);
		});
		$('gap-reload').addEventListener('click', () => location.reload());
		window.addEventListener('popstate', () => this.render());
		window.addEventListener('pageshow', (e) => {
			if (e.persisted) this.render();
		});
	}

	async init() {
		if (await this.rc.resume(currentRoom())) {
			this.watchConn();
			return;
		}
		// A returning player finds its name filled in; but while another
		// window plays as someone, a new window is more likely a second
		// player: it is offered "Continue as" instead.
		const live = await this.listLivePlayers();
		if (live.length === 0) $('name-input').value = this.rc.lastName();
		this.render();
	}

	// listLivePlayers offers the players other tabs of this browser show.
	async listLivePlayers() {
		const live = await this.rc.livePlayers();
		const items = live.map((p) =>
			el('li', {}, el('button', { type: 'button', dataset: { profile: p.key }, text: 'Continue as ' + p.name })));
		$('continue-list').replaceChildren(...items);
		show($('continue'), items.length > 0);
		return live;
	}

	async chooseName() {
		const input = $('name-input');
		const name = input.value.trim();
		if (!name) {
			this.nameError = 'Please enter a name.';
			this.render();
			input.focus();
			return;
		}
		this.nameError = '';
		await this.startClient(() => this.rc.play(name));
	}

	// startClient runs start (which starts the rooms client) and follows
	// the connection it opened.
	async startClient(start) {
		const had = this.rc.comet;
		await start();
		if (this.rc.comet !== had) this.watchConn();
		this.render();
	}

	watchConn() {
		for (const t of ['state', 'transport', 'leader']) this.rc.comet.on(t, () => this.renderConn());
	}

	/** signOut stops this tab being the player and shows the name view. */
	async signOut() {
		await this.rc.signOut();
		this.nameError = '';
		$('name-input').value = '';
		this.navigate(null);
		await this.listLivePlayers();
		this.render();
	}

	/** navigate shows a room (or the lobby for null), keeping the other URL parameters. */
	navigate(room) {
		const url = new URL(location.href);
		if (room) url.searchParams.set('room', room);
		else url.searchParams.delete('room');
		if (url.href !== location.href) history.pushState(null, '', url);
		this.render();
	}

	/** enter joins (how 'join') or watches (how 'spectate') a room and shows it. */
	enter(room, how) {
		if (!room) return;
		this.navigate(room);
		(how === 'join' ? this.rc.join(room) : this.rc.spectate(room)).catch((err) => {
			if (err.code !== 'closed') toast(reason(err.message), 'error');
		});
	}

	/** leaveRoom leaves a room (a game in progress is forfeited) and shows the lobby. */
	leaveRoom(room) {
		this.rc.leave(room).then(() => {
			if (currentRoom() === room) this.navigate(null);
		}, (err) => toast(reason(err.message), 'error'));
	}

	currentView() {
		switch (this.rc.status) {
		case 'idle':
		case 'failed':
			return 'name';
		case 'loading':
			return 'loading';
		}
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
		const rc = this.rc;
		const v = this.currentView();
		const changed = v !== this.view;
		this.view = v;
		document.body.dataset.view = v;
		// For tests: whether the lobby acknowledged that this tab shows it.
		setData(document.body, { browse: rc.browseAcked === null ? null : rc.browseAcked ? 'on' : 'off' });
		for (const name of ['loading', 'name', 'lobby', 'game']) show($('view-' + name), name === v);
		const me = rc.model && rc.model.me;
		show($('me'), !!me);
		if (me) setText($('me-name'), me.name);
		show($('gap'), rc.gapSeen);
		switch (v) {
		case 'name': {
			const err = $('name-error');
			const text = this.nameError || (rc.status === 'failed' ? reason(rc.helloError) : '');
			setText(err, text);
			show(err, !!text);
			show($('continue'), !rc.comet && $('continue-list').children.length > 0);
			if (changed && rc.status === 'failed') queueMicrotask(() => $('name-input').focus());
			break;
		}
		case 'loading':
			setText($('loading-text'), rc.hello === 'sent' ? 'Entering the lobby…' : 'Connecting…');
			break;
		case 'lobby':
			this.lobbyView.render(rc.model);
			break;
		case 'game':
			this.gameView.render(rc.model, currentRoom());
			break;
		}
		if (v !== 'game') document.title = 'cometplay tictactoe';
		rc.browse(v === 'lobby');
		this.renderConn();
		if (changed && v !== 'loading') {
			// The control that had the focus may have just been hidden with
			// its view: start the keyboard (and screen reader) at the new
			// view's heading.
			const h = /** @type {HTMLElement|null} */ (document.querySelector('#view-' + v + ' h1'));
			const a = document.activeElement;
			const kept = a && a !== document.body && (a.closest('#view-' + v) || a.closest('header'));
			if (h && !kept && !(v === 'name' && rc.status === 'failed')) h.focus({ preventScroll: true });
		}
	}

	renderConn() {
		const c = this.rc.comet;
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
