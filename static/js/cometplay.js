// cometplay.js — browser client of the cometplay Comet server.
//
// An ES module with no build step and no dependencies. It speaks the Pushlet
// 2.0.4 protocol plus cometplay's extensions (json and sse formats, p_public,
// p_last resume, gap events) at the server's /comet endpoint. docs/CLIENT.md
// is the manual; this file's JSDoc is the reference.
//
//   import { CometClient } from '/js/cometplay.js';
//   const client = new CometClient({ url: '/comet' });
//   client.on('data', ev => console.log(ev.p_subject, ev));
//   await client.connect();
//   await client.subscribe('/room/42');
//   await client.publish('/room/42', { move: 'e4' });
//
// Structure: CometClient is the public object of one tab. Tabs of one browser
// share one server session and one connection: the tab holding a Web Lock is
// the leader and runs a Link (the session, its transports and its control
// requests); the other tabs talk to it over a BroadcastChannel.

/** Connection states, in the order a healthy client goes through them. */
export const State = Object.freeze({
	/** connect() not called yet. */
	IDLE: 'idle',
	/** Joining, or opening the first data channel. */
	CONNECTING: 'connecting',
	/** A data channel is open (its listen-ack arrived). */
	CONNECTED: 'connected',
	/** The data channel was lost; waiting (backoff) or opening a new one. */
	RECONNECTING: 'reconnecting',
	/** close() was called or the page went away; final. */
	CLOSED: 'closed',
});

/** @typedef {'stream'|'sse'|'iframe'|'long-poll'|'poll'} Transport */
/** @typedef {'nack'|'network'|'http'|'session'|'protocol'|'interrupted'|'fallback'|'closed'} CometErrorCode */

/**
 * Transport names, best first: the order of the automatic choice.
 * @type {readonly Transport[]}
 */
export const TRANSPORTS = Object.freeze(['stream', 'sse', 'long-poll', 'poll']);

const ALL_TRANSPORTS = ['stream', 'sse', 'iframe', 'long-poll', 'poll'];

/**
 * CometError is the error of every rejected promise and of the 'error' event.
 * code says what happened:
 * - 'nack': the server refused the request; message is its p_reason.
 * - 'network': the request failed or timed out (the server may or may not have
 *   performed it).
 * - 'http': the server answered with an unexpected HTTP status (detail.status).
 * - 'session': the session is unknown or expired (HTTP 400); the client joins a
 *   new one by itself.
 * - 'protocol': the server's answer could not be understood.
 * - 'interrupted': the leader tab went away after receiving this tab's publish
 *   and before answering; it may or may not have been published.
 * - 'fallback': (only on the 'error' event) the client gave up a transport;
 *   detail.transport is the one it uses next.
 * - 'closed': the client was closed.
 */
export class CometError extends Error {
	/** @type {'CometError'} */
	name = 'CometError';

	/**
	 * @param {CometErrorCode} code
	 * @param {string} message
	 * @param {object} [detail]
	 */
	constructor(code, message, detail) {
		super(message);
		this.code = code;
		/** @type {any} */
		this.detail = detail;
	}
}

/**
 * subjectMatches reports whether a subscription subject receives events
 * published to subject, with the server's rules: "/a" receives "/a" and
 * "/a/b" but not "/ab"; "/a/" receives only what lies below "/a"; "/"
 * receives every subject starting with "/"; a comma list matches if any part
 * does.
 * @param {string} subscription
 * @param {string} subject
 * @returns {boolean}
 */
export function subjectMatches(subscription, subject) {
	for (const s of subscription.split(',')) {
		if (s.endsWith('/')) {
			if (subject.startsWith(s)) return true;
		} else if (subject === s || subject.startsWith(s + '/')) {
			return true;
		}
	}
	return false;
}

const DEFAULTS = {
	url: '/comet',
	transport: 'auto',
	transportUrls: {},
	handshakeTimeout: 8000,
	heartbeatTimeout: 45000,
	requestTimeout: 15000,
	backoff: { initial: 500, max: 30000, jitter: 0.5 },
	fallbackAfter: 3,
	shared: true,
	name: 'default',
	frameUrl: null,
	leaveOnPageHide: true,
};

// Events of the data channel that carry a sequence number but are not
// session events: hb and abort report the last number assigned.
// A data channel's events are acknowledged with the session's next request,
// or, when none comes, ACK_AFTER ms after the first unacknowledged one, or
// at once past ACK_EVENTS of them: what the server holds for the session
// stays small.
const ACK_AFTER = 5000;
const ACK_EVENTS = 64;

const UNSEQUENCED = new Set(['hb', 'abort', 'listen-ack', 'refresh-ack', 'refresh', 'join-listen-ack']);

// How long a follower tab holds an event that arrived ahead of a missing
// one. BroadcastChannel orders the messages of one sender only: after a
// leader takeover, the old leader's last events may arrive after the new
// leader's first ones.
const REORDER_WAIT = 2000;

const hasStream = () => typeof fetch === 'function' && typeof ReadableStream === 'function' &&
	typeof TextDecoder === 'function' && typeof Response === 'function' && 'body' in Response.prototype;
const hasSSE = () => typeof EventSource === 'function';
const hasDocument = () => typeof document === 'object' && document !== null;

function supported(name) {
	switch (name) {
	case 'stream': return hasStream();
	case 'sse': return hasSSE();
	case 'iframe': return hasDocument();
	case 'long-poll': case 'poll': return typeof fetch === 'function';
	}
	return false;
}

/**
 * ownURL resolves the URL value of option against base and returns it. It
 * throws a TypeError unless the result is an http: or https: URL of the
 * page's own origin: the client sends the session's secret id to these URLs,
 * and the iframe transport makes frameUrl a frame's src, so a javascript:
 * or foreign URL there would run another site's script with the session on
 * the game's origin.
 * @param {string} option
 * @param {string} value
 * @param {string|undefined} base
 * @returns {string}
 */
function ownURL(option, value, base) {
	const origin = typeof location === 'object' && location ? location.origin : null;
	let u = null;
	try {
		u = new URL(String(value), base);
	} catch {
		// reported below
	}
	if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:') || (origin !== null && u.origin !== origin)) {
		throw new TypeError('cometplay: ' + option + ' must be an http(s) URL of the page\'s origin' +
			(origin !== null ? ' (' + origin + ')' : '') + ', not ' + JSON.stringify(String(value)));
	}
	return u.href;
}

function randomId() {
	if (typeof crypto === 'object' && crypto.randomUUID) return crypto.randomUUID();
	return Math.random().toString(36).slice(2) + Date.now().toString(36);
}

function subKey(subject, label) {
	return subject + '\n' + (label || '');
}

/**
 * Emitter is a minimal event emitter; a throwing listener does not stop the
 * others (its error is rethrown asynchronously, so it shows in the console).
 * CometClient and rooms.js's RoomsClient keep one for their listeners.
 */
export class Emitter {
	#listeners = new Map();

	/**
	 * on registers fn for events of type and returns a function removing it.
	 * @param {string} type
	 * @param {(arg: any) => void} fn
	 * @returns {() => void}
	 */
	on(type, fn) {
		let set = this.#listeners.get(type);
		if (!set) this.#listeners.set(type, set = new Set());
		set.add(fn);
		return () => this.off(type, fn);
	}

	/**
	 * off removes a listener registered with on.
	 * @param {string} type
	 * @param {(arg: any) => void} fn
	 */
	off(type, fn) {
		this.#listeners.get(type)?.delete(fn);
	}

	/**
	 * once registers fn for the next event of type only.
	 * @param {string} type
	 * @param {(arg: any) => void} fn
	 * @returns {() => void}
	 */
	once(type, fn) {
		const off = this.on(type, (arg) => {
			off();
			fn(arg);
		});
		return off;
	}

	/**
	 * emit calls the listeners of type with arg.
	 * @param {string} type
	 * @param {any} [arg]
	 */
	emit(type, arg) {
		const set = this.#listeners.get(type);
		if (!set) return;
		for (const fn of [...set]) {
			try {
				fn(arg);
			} catch (err) {
				// Report the application's bug without breaking the client.
				setTimeout(() => { throw err; });
			}
		}
	}
}

/**
 * Link is one server session and its data channel: it joins, keeps a
 * transport open, resumes with p_last, falls back and backs off. Only the
 * leader tab has one. Not exported.
 */
class Link {
	/**
	 * @param {object} opts normalized client options
	 * @param {object} hooks callbacks into the client
	 * @param {{id: string, publicId: string}|null} session a session to resume
	 * @param {number} lastSeq the last sequence number seen of that session
	 * @param {string|null} transport the transport to start with (the one a
	 *   previous leader fell back to), if it is in the chain
	 */
	constructor(opts, hooks, session, lastSeq, transport) {
		this.opts = opts;
		this.hooks = hooks;
		this.id = session ? session.id : null;
		this.publicId = session ? session.publicId : null;
		this.lastSeq = session ? lastSeq : 0;
		this.ackedSeq = 0; // the last sequence number the server was told we have (p_ack, p_last)
		this.ackTimer = null; // acknowledges what the channel delivered when no request does (ACK_AFTER)
		this.state = State.CONNECTING;
		this.transport = null;
		this.closed = false;
		this.subs = new Map(); // key → {subject, label, sid, owners: Set, pending}
		this.pollWishes = new Map(); // owner (tab) → the poll wait it asks for, ms: see setPollWait
		this.pollWake = null; // cuts the poll transport's current wait short
		this.sessionWaiters = [];
		this.abortListen = null;
		this.sleepers = new Set();
		this.chain = opts.transports.slice();
		this.ti = Math.max(0, this.chain.indexOf(transport));
		this.everConnected = false;
	}

	start() {
		this.run().catch((err) => this.hooks.error(err));
	}

	/** stop ends the data channel; the session is left only if leave is true. */
	stop(leave, beacon) {
		if (this.closed) return;
		this.closed = true;
		clearTimeout(this.ackTimer);
		const id = this.id;
		this.abortListen?.();
		this.kick();
		for (const w of this.sessionWaiters) w.reject(new CometError('closed', 'client closed'));
		this.sessionWaiters = [];
		if (!leave || !id) return;
		const body = new URLSearchParams({ p_event: 'leave', p_id: id });
		if (beacon && typeof navigator === 'object' && navigator.sendBeacon &&
			navigator.sendBeacon(this.opts.url, body)) {
			return;
		}
		fetch(this.opts.url, { method: 'POST', body, keepalive: true, cache: 'no-store' }).catch(() => {});
	}

	/** kick cuts a backoff wait short (the network came back, the page was restored). */
	kick() {
		for (const wake of [...this.sleepers]) wake();
	}

	setState(s) {
		if (this.state === s) return;
		this.state = s;
		this.hooks.state(s, this.transport);
	}

	backoff(n) {
		const b = this.opts.backoff;
		const d = Math.min(b.max, b.initial * 2 ** Math.max(0, n - 1));
		return Math.round(d * (1 - b.jitter * Math.random()));
	}

	// sleep waits ms, or less if kick() or stop() is called (or, for the
	// poll transport's wait, pollNow).
	sleep(ms, poll = false) {
		return new Promise((resolve) => {
			const wake = () => {
				clearTimeout(t);
				this.sleepers.delete(wake);
				if (this.pollWake === wake) this.pollWake = null;
				resolve();
			};
			const t = setTimeout(wake, ms);
			this.sleepers.add(wake);
			if (poll) this.pollWake = wake;
		});
	}

	// run is the connection loop: join when there is no session, listen with
	// the current transport, and decide what to do when the listen ends.
	async run() {
		let failures = 0; // consecutive listens that did not end well
		let unacked = 0; // consecutive listens of this transport never acknowledged
		while (!this.closed) {
			if (!this.id) {
				this.setState(this.everConnected ? State.RECONNECTING : State.CONNECTING);
				try {
					await this.join();
				} catch (err) {
					if (this.closed) return;
					this.hooks.error(err);
					failures++;
					await this.sleep(this.backoff(failures));
					continue;
				}
				if (this.closed) return;
				if (!this.id) continue; // lost again while re-subscribing
			}
			const name = this.chain[this.ti];
			const r = await this.listen(name);
			if (this.closed) return;
			if (r.error) this.hooks.error(r.error);
			if (r.probe && !r.gone && this.id) r.gone = await this.probeGone();
			if (r.gone || !this.id) {
				// The session is gone (or a control request found so): join
				// again at once, then with backoff if that keeps happening.
				this.dropSession(this.id);
				failures++;
				if (failures > 1) await this.sleep(this.backoff(failures - 1));
				continue;
			}
			if (r.buffered || r.forcedPull) {
				// A proxy holds the stream back (or the server forces pull):
				// streaming is pointless, poll for events instead.
				const to = this.chain.findIndex((t, i) => i > this.ti && (t === 'long-poll' || t === 'poll'));
				if (to >= 0) {
					this.switchTo(to, r.buffered ?
						name + ' buffered: no listen-ack within ' + this.opts.handshakeTimeout + ' ms' :
						'the server forces pull mode');
					unacked = 0;
					continue;
				}
			}
			if (r.acked) {
				failures = 0;
				unacked = 0;
			} else if (++unacked >= this.opts.fallbackAfter && this.ti < this.chain.length - 1) {
				this.switchTo(this.ti + 1, name + ' failed ' + unacked + ' times');
				unacked = 0;
			}
			failures++;
			this.setState(State.RECONNECTING);
			await this.sleep(this.backoff(failures));
		}
	}

	switchTo(i, why) {
		this.ti = i;
		this.hooks.fallback(this.chain[i], why);
	}

	// join creates a session, re-subscribes everything and reports it.
	async join() {
		const evs = await this.post({ p_event: 'join', p_format: 'json' });
		const ack = evs.find((e) => e.p_event === 'join-ack');
		if (!ack || !ack.p_id) throw new CometError('protocol', 'no join-ack in the answer to join', { events: evs });
		const previous = this.publicId;
		this.id = ack.p_id;
		this.publicId = ack.p_public || null;
		this.lastSeq = 0;
		this.ackedSeq = 0;
		const id = this.id;
		const waiters = this.sessionWaiters;
		this.sessionWaiters = [];
		for (const w of waiters) w.resolve(id);
		// Re-subscribe before telling the application, so that its 'session'
		// handler finds its subscriptions in place. Direct posts, not
		// control(): that would wait for the next session if this one were
		// already gone, and the loop waiting here is the one that joins.
		await Promise.all([...this.subs.values()].map(async (e) => {
			const fields = { p_event: 'subscribe', p_id: id, p_subject: e.subject };
			if (e.label) fields.p_label = e.label;
			try {
				const ack = (await this.post(fields))[0] || {};
				if (ack.p_event === 'subscribe-ack') {
					e.sid = ack.p_sid;
				} else if (ack.p_event === 'nack') {
					if (this.subs.get(e.key) === e) this.subs.delete(e.key);
					this.hooks.error(new CometError('nack', 'subscribe ' + e.subject + ': ' + ack.p_reason, ack));
				}
			} catch (err) {
				if (err.code === 'session') {
					this.dropSession(id);
				} else {
					this.serverSubscribe(e).catch(() => {});
				}
			}
		}));
		if (this.id === id) this.hooks.session({ id, publicId: this.publicId, previous });
	}

	// dropSession forgets a session the server does not know any more.
	dropSession(id) {
		if (!id || this.id !== id) return;
		this.id = null;
		for (const e of this.subs.values()) e.sid = null;
		this.abortListen?.();
	}

	sessionReady() {
		if (this.closed) return Promise.reject(new CometError('closed', 'client closed'));
		if (this.id) return Promise.resolve(this.id);
		return new Promise((resolve, reject) => this.sessionWaiters.push({ resolve, reject }));
	}

	// probeGone asks the server whether the session still exists (for the
	// transports that cannot see HTTP status codes: sse and iframe).
	async probeGone() {
		const id = this.id;
		try {
			await this.post({ p_event: 'hb', p_id: id });
			return false;
		} catch (err) {
			return err.code === 'session';
		}
	}

	// post sends a control request and returns the events of the answer.
	// keepalive lets the request outlive the page (sent as the page goes
	// away).
	async post(params, timeout = this.opts.requestTimeout, keepalive = false) {
		if (params.p_id === this.id && this.lastSeq > this.ackedSeq && params.p_ack === undefined) {
			// Every request of the session acknowledges what the data channel
			// delivered, so that the server lets go of it (docs/PROTOCOL.md,
			// "Acknowledging events").
			params = { ...params, p_ack: String(this.lastSeq) };
			this.ackedSeq = this.lastSeq;
		}
		const ctrl = new AbortController();
		const timer = setTimeout(() => ctrl.abort(), timeout);
		let res;
		try {
			res = await fetch(this.opts.url, {
				method: 'POST',
				body: new URLSearchParams(params),
				cache: 'no-store',
				credentials: 'same-origin',
				signal: ctrl.signal,
				keepalive,
			});
			if (res.status === 400) throw new CometError('session', 'session expired or unknown', { status: 400 });
			if (!res.ok) throw new CometError('http', 'HTTP ' + res.status, { status: res.status });
			const evs = await res.json();
			if (!Array.isArray(evs)) throw new CometError('protocol', 'answer is not a JSON array');
			return evs;
		} catch (err) {
			if (err instanceof CometError) throw err;
			throw new CometError('network', params.p_event + ': ' + (err && err.message || err), { cause: err });
		} finally {
			clearTimeout(timer);
		}
	}

	// control sends one request of the session. A 400 means the session is
	// gone and the request was not performed: it is sent again on the next
	// session. Idempotent requests are also retried after network errors.
	async control(event, fields, idempotent, keepalive = false) {
		for (let attempt = 1; ; attempt++) {
			const id = await this.sessionReady();
			try {
				const evs = await this.post({ ...fields, p_event: event, p_id: id }, this.opts.requestTimeout, keepalive);
				const ev = evs[0];
				if (!ev) throw new CometError('protocol', 'empty answer to ' + event);
				if (ev.p_event === 'nack') throw new CometError('nack', ev.p_reason || 'refused', ev);
				return ev;
			} catch (err) {
				if (this.closed) throw new CometError('closed', 'client closed');
				if (err.code === 'session' && attempt <= 3) {
					this.dropSession(id);
					continue;
				}
				if (idempotent && (err.code === 'network' || err.code === 'http')) {
					await this.sleep(this.backoff(attempt));
					continue;
				}
				throw err;
			}
		}
	}

	// serverSubscribe (re)creates entry's subscription in the current session.
	serverSubscribe(entry) {
		if (entry.pending) return entry.pending;
		const fields = { p_subject: entry.subject };
		if (entry.label) fields.p_label = entry.label;
		const p = this.control('subscribe', fields, true).then((ack) => {
			entry.sid = ack.p_sid;
			return ack.p_sid;
		}, (err) => {
			if (err.code === 'nack' && this.subs.get(entry.key) === entry) this.subs.delete(entry.key);
			throw err;
		}).finally(() => {
			if (entry.pending === p) entry.pending = null;
		});
		entry.pending = p;
		return p;
	}

	/** subscribe adds owner's interest in subject/label and returns the sid. */
	subscribe(subject, label, owner) {
		const key = subKey(subject, label);
		let entry = this.subs.get(key);
		if (!entry) {
			entry = { key, subject, label: label || '', sid: null, owners: new Set(), pending: null };
			this.subs.set(key, entry);
		}
		entry.owners.add(owner);
		if (entry.sid && !entry.pending) return Promise.resolve(entry.sid);
		return this.serverSubscribe(entry).catch((err) => {
			entry.owners.delete(owner);
			throw err;
		});
	}

	/** unsubscribe drops owner's interest; the last owner out unsubscribes. */
	async unsubscribe(subject, label, owner) {
		const key = subKey(subject, label);
		const entry = this.subs.get(key);
		if (!entry) return;
		entry.owners.delete(owner);
		if (entry.owners.size > 0) return;
		this.subs.delete(key);
		const sid = entry.sid || await entry.pending?.catch(() => null);
		if (!sid || !this.id) return;
		try {
			await this.control('unsubscribe', { p_sid: sid }, false);
		} catch (err) {
			if (err.code !== 'nack' && err.code !== 'closed') throw err;
		}
	}

	/** dropOwner removes every interest of a tab that went away. */
	dropOwner(owner) {
		for (const e of [...this.subs.values()]) {
			if (e.owners.has(owner)) this.unsubscribe(e.subject, e.label, owner).catch(() => {});
		}
		this.setPollWait(owner, null);
	}

	/**
	 * setPollWait records the poll wait owner asks for (ms, or null for the
	 * server's). A shorter one than before takes effect at once: the poll
	 * waiting now comes back early, asking for it.
	 */
	setPollWait(owner, ms) {
		const before = this.pollWait();
		if (ms === null || ms === undefined) this.pollWishes.delete(owner);
		else this.pollWishes.set(owner, Math.max(0, Math.floor(ms)));
		const now = this.pollWait();
		if (now !== null && (before === null || now < before)) this.pollNow();
	}

	/** pollWait is the shortest poll wait the tabs ask for, or null. */
	pollWait() {
		return this.pollWishes.size ? Math.min(...this.pollWishes.values()) : null;
	}

	/** pollNow ends the poll transport's wait: it refreshes at once. */
	pollNow() {
		this.pollWake?.();
	}

	publish(subject, fields, to, keepalive) {
		const f = {};
		for (const [k, v] of Object.entries(fields || {})) {
			if (v !== undefined && v !== null) f[k] = String(v);
		}
		f.p_subject = subject;
		if (to) f.p_to = to;
		return this.control('publish', f, false, !!keepalive).then(() => {
			// What the publish caused (an ack, the room's answer) comes
			// with the next poll: do not wait the server's p_wait for it.
			this.pollNow();
		});
	}

	// deliver takes one event off the data channel.
	deliver(ev) {
		const name = ev.p_event;
		if (ev.p_seq === undefined || UNSEQUENCED.has(name)) {
			if (name === 'abort') this.hooks.event(ev);
			return;
		}
		const seq = Number(ev.p_seq);
		if (!(seq > this.lastSeq)) return; // a duplicate: already delivered
		if (name !== 'gap' && seq > this.lastSeq + 1) {
			// Sequence numbers are contiguous within a session; never lose
			// events silently even if the server did not say.
			this.hooks.event({
				p_event: 'gap', p_gap_from: String(this.lastSeq + 1), p_gap_to: String(seq - 1),
				p_seq: String(seq - 1), synthesized: 'true',
			});
		}
		this.lastSeq = seq;
		this.hooks.event(ev);
		this.scheduleAck();
	}

	// scheduleAck acknowledges delivered events on a data channel that no
	// request of ours follows (a spectator, a stream between two moves): at
	// once past ACK_EVENTS of them, else ACK_AFTER after the first.
	scheduleAck() {
		if (this.lastSeq - this.ackedSeq >= ACK_EVENTS) {
			clearTimeout(this.ackTimer);
			this.ackTimer = null;
			this.sendAck();
			return;
		}
		if (this.ackTimer === null) {
			this.ackTimer = setTimeout(() => {
				this.ackTimer = null;
				if (this.lastSeq > this.ackedSeq) this.sendAck();
			}, ACK_AFTER);
		}
	}

	sendAck() {
		if (this.closed || !this.id) return;
		this.post({ p_event: 'hb', p_id: this.id }).catch(() => {});
	}

	connected(name) {
		this.everConnected = true;
		this.transport = name;
		if (this.state === State.CONNECTED) {
			this.hooks.state(this.state, name);
		} else {
			this.setState(State.CONNECTED);
		}
	}

	dataUrl(name) {
		return this.opts.transportUrls[name] || this.opts.url;
	}

	listenQuery(fields) {
		this.ackedSeq = Math.max(this.ackedSeq, this.lastSeq); // p_last acknowledges
		return new URLSearchParams({ ...fields, p_id: this.id, p_last: String(this.lastSeq) }).toString();
	}

	// listen runs one data channel of transport name until it ends. It
	// resolves to {acked, gone, probe, buffered, forcedPull, error}.
	listen(name) {
		switch (name) {
		case 'stream': return this.listenStream();
		case 'sse': return this.listenSSE();
		case 'iframe': return this.listenIframe();
		case 'long-poll': return this.listenPull('pull');
		case 'poll': return this.listenPull('poll');
		}
		return Promise.resolve({ error: new CometError('protocol', 'unknown transport ' + name) });
	}

	// watchdog arms the handshake timer (no listen-ack in time: buffered) and
	// the idle timer (no byte for heartbeatTimeout: the channel is dead).
	watchdog(onBuffered, onIdle) {
		const w = {
			acked: false,
			hs: setTimeout(() => { if (!w.acked) onBuffered(); }, this.opts.handshakeTimeout),
			idle: null,
			poke: () => {
				clearTimeout(w.idle);
				w.idle = setTimeout(onIdle, this.opts.heartbeatTimeout);
			},
			ack: () => {
				w.acked = true;
				clearTimeout(w.hs);
			},
			stop: () => {
				clearTimeout(w.hs);
				clearTimeout(w.idle);
			},
		};
		return w;
	}

	async listenStream() {
		const ctrl = new AbortController();
		let buffered = false;
		let stopped = false;
		this.abortListen = () => { stopped = true; ctrl.abort(); };
		const w = this.watchdog(() => { buffered = true; ctrl.abort(); }, () => ctrl.abort());
		try {
			const url = this.dataUrl('stream') + '?' + this.listenQuery({ p_event: 'listen', p_mode: 'stream', p_format: 'json' });
			const res = await fetch(url, { cache: 'no-store', credentials: 'same-origin', signal: ctrl.signal });
			if (res.status === 400) return { gone: true };
			if (!res.ok || !res.body) return { error: new CometError('http', 'stream: HTTP ' + res.status, { status: res.status }) };
			const reader = res.body.getReader();
			const dec = new TextDecoder();
			let buf = '';
			w.poke();
			for (;;) {
				const { value, done } = await reader.read();
				if (done) break;
				w.poke();
				buf += dec.decode(value, { stream: true });
				let nl;
				while ((nl = buf.indexOf('\n')) >= 0) {
					const line = buf.slice(0, nl);
					buf = buf.slice(nl + 1);
					if (line.trim() === '') continue;
					const ev = JSON.parse(line);
					if (ev.p_event === 'listen-ack') {
						w.ack();
						if (ev.p_mode && ev.p_mode !== 'stream') {
							ctrl.abort();
							return { acked: true, forcedPull: true };
						}
						this.connected('stream');
						continue;
					}
					this.deliver(ev);
				}
			}
			return { acked: w.acked };
		} catch (err) {
			if (buffered) return { buffered: true };
			if (stopped) return { acked: w.acked };
			return { acked: w.acked, error: err instanceof CometError ? err : new CometError('network', 'stream: ' + err.message, { cause: err }) };
		} finally {
			w.stop();
			this.abortListen = null;
		}
	}

	listenSSE() {
		return new Promise((resolve) => {
			const url = this.dataUrl('sse') + '?' + this.listenQuery({ p_event: 'listen', p_format: 'sse' });
			const es = new EventSource(url, { withCredentials: false });
			const finish = (r) => {
				w.stop();
				es.close();
				this.abortListen = null;
				resolve(r);
			};
			const w = this.watchdog(() => finish({ buffered: true }), () => finish({ acked: true, probe: true }));
			this.abortListen = () => finish({ acked: w.acked });
			es.onmessage = (m) => {
				w.poke();
				let ev;
				try {
					ev = JSON.parse(m.data);
				} catch (err) {
					finish({ acked: w.acked, error: new CometError('protocol', 'sse: bad event data') });
					return;
				}
				if (ev.p_event === 'listen-ack') {
					w.ack();
					this.connected('sse');
					return;
				}
				this.deliver(ev);
			};
			// EventSource would reconnect by itself, but with the URL's stale
			// p_last; reconnecting ourselves resumes from the true position,
			// and lets us see whether the session still exists.
			es.onerror = () => finish({ acked: w.acked, probe: true });
		});
	}

	listenIframe() {
		return new Promise((resolve) => {
			const doc = document;
			const cb = '__cometplay_' + randomId().replace(/-/g, '');
			const src = this.dataUrl('iframe') + '?' + this.listenQuery({ p_event: 'listen', p_mode: 'stream', p_format: 'js' });
			const frame = doc.createElement('iframe');
			frame.setAttribute('aria-hidden', 'true');
			frame.tabIndex = -1;
			frame.style.cssText = 'position:absolute;width:0;height:0;border:0;visibility:hidden';
			const finish = (r) => {
				w.stop();
				delete window[cb];
				frame.remove();
				this.abortListen = null;
				resolve(r);
			};
			const w = this.watchdog(() => finish({ buffered: true }), () => finish({ acked: true, probe: true }));
			this.abortListen = () => finish({ acked: w.acked });
			// The frame page calls this with the arguments of each parent.push
			// (name, value, name, value...), and with null when the listen
			// document ended.
			window[cb] = (args) => {
				if (args === null) {
					finish({ acked: w.acked, probe: true });
					return;
				}
				w.poke();
				const ev = {};
				for (let i = 0; i + 1 < args.length; i += 2) ev[String(args[i])] = String(args[i + 1]);
				if (ev.p_event === 'listen-ack') {
					w.ack();
					if (ev.p_mode && ev.p_mode !== 'stream') {
						finish({ acked: true, forcedPull: true });
						return;
					}
					this.connected('iframe');
					return;
				}
				this.deliver(ev);
			};
			frame.src = this.opts.frameUrl + '#' + new URLSearchParams({ cb, src }).toString();
			(doc.body || doc.documentElement).appendChild(frame);
		});
	}

	// getEvents performs one pull/poll data request of transport name.
	async getEvents(name, fields, timeout, ctrl) {
		const timer = setTimeout(() => ctrl.abort(), timeout);
		try {
			const url = this.dataUrl(name) + '?' + this.listenQuery(fields);
			const res = await fetch(url, { cache: 'no-store', credentials: 'same-origin', signal: ctrl.signal });
			if (res.status === 400) return { gone: true };
			if (!res.ok) return { error: new CometError('http', fields.p_event + ': HTTP ' + res.status, { status: res.status }) };
			const evs = await res.json();
			if (!Array.isArray(evs)) return { error: new CometError('protocol', fields.p_event + ': answer is not a JSON array') };
			return { events: evs };
		} finally {
			clearTimeout(timer);
		}
	}

	async listenPull(mode) {
		const name = mode === 'pull' ? 'long-poll' : 'poll';
		let stopped = false;
		let ctrl = new AbortController();
		this.abortListen = () => {
			stopped = true;
			ctrl.abort();
			this.kick();
		};
		let acked = false;
		try {
			// A poll asks for the wait the tabs want (p_wait; the server
			// keeps it above its floor).
			const asked = (fields) => {
				const w = mode === 'poll' ? this.pollWait() : null;
				return w === null ? fields : { ...fields, p_wait: String(w) };
			};
			let r = await this.getEvents(name, asked({ p_event: 'listen', p_mode: mode, p_format: 'json' }), this.opts.requestTimeout, ctrl);
			for (;;) {
				if (stopped) return { acked };
				if (r.gone) return { acked, gone: true };
				if (r.error) return { acked, error: r.error };
				let wait = -1;
				for (const ev of r.events) {
					switch (ev.p_event) {
					case 'listen-ack':
						acked = true;
						this.connected(name);
						break;
					case 'refresh-ack':
						break;
					case 'refresh':
						wait = Number(ev.p_wait) || 0;
						break;
					default:
						this.deliver(ev);
					}
				}
				if (!acked) return { error: new CometError('protocol', 'no listen-ack in the answer to listen') };
				// No refresh event: the server ended the channel (the session
				// ended); the next listen tells.
				if (wait < 0) return { acked };
				// Long-poll comes back at once: p_wait is for Pushlet's own
				// clients. Poll honours it.
				if (mode === 'poll' && wait > 0) await this.sleep(wait, true);
				if (stopped) return { acked };
				ctrl = new AbortController();
				const timeout = mode === 'pull' ? this.opts.heartbeatTimeout : this.opts.requestTimeout;
				r = await this.getEvents(name, asked({ p_event: 'refresh', p_format: 'json' }), timeout, ctrl);
			}
		} catch (err) {
			if (stopped) return { acked };
			return { acked, error: err instanceof CometError ? err : new CometError('network', mode + ': ' + err.message, { cause: err }) };
		} finally {
			this.abortListen = null;
		}
	}
}

/**
 * CometClient is the client of one tab. Create it, register listeners with
 * on(), then connect(). See docs/CLIENT.md.
 *
 * Events (register with on(type, fn)):
 * - 'data' (ev): a data event for one of this tab's subscriptions, or sent to
 *   this session alone; ev is the server's object of string fields.
 * - 'event' (ev): every sequenced event of the session (data, gap, custom
 *   events sent by the server) before the subscription filter, and 'abort'.
 * - 'gap' ({from, to}): events from..to (sequence numbers) were lost.
 * - 'state' ({state, transport}): the connection state changed.
 * - 'transport' (name): the data channel now uses this transport.
 * - 'session' ({publicId, previous}): a new server session was joined (the
 *   first, or after the old one expired); re-identify with the server.
 * - 'leader' (isLeader): this tab became (or stopped being) the one that
 *   holds the connection.
 * - 'error' (CometError): a non-fatal error; the client keeps trying.
 */
export class CometClient {
	#events = new Emitter();
	#opts;
	#tabId = randomId();
	#key;
	#started = false;
	#closed = false;
	#state = State.IDLE;
	#transport = null;
	#session = null; // {id, publicId} of the shared session, as this tab knows it
	#lastSeq = 0;
	#mySubs = new Map(); // key → {subject, label}
	/** @type {number|null} */
	#pollWait = null; // the poll wait this tab asks for: see setPollWait
	#link = null;
	#isLeader = false;
	#leaderId = null;
	#bc = null;
	#followers = new Map(); // leader only: tabId → AbortController of its lock watch
	#pending = new Map(); // follower requests: id → {op, args, resolve, reject, sentTo}
	#reqSeq = 0;
	#releaseLeader = null;
	#releaseTab = null;
	#leaderQueue = null; // AbortController of the pending leader lock request
	#positioned = false; // follower: lastSeq is known (from the leader), so gaps are meaningful
	#held = new Map(); // follower: seq → event that arrived ahead of a missing one
	#heldTimer = null;
	#connectWaiters = [];
	#onPageHide;
	#onPageShow;
	#onOnline;

	/**
	 * @param {import('./cometplay.js').CometOptions} [options]
	 */
	constructor(options = {}) {
		const o = { ...DEFAULTS, ...options };
		o.backoff = { ...DEFAULTS.backoff, ...(options.backoff || {}) };
		const base = hasDocument() ? document.baseURI : (typeof location === 'object' ? location.href : undefined);
		o.url = ownURL('url', o.url, base);
		const urls = {};
		for (const [k, v] of Object.entries(o.transportUrls || {})) urls[k] = ownURL('transportUrls.' + k, v, base);
		o.transportUrls = urls;
		let list = o.transport === 'auto' || !o.transport ? TRANSPORTS.slice() : [].concat(o.transport);
		for (const t of list) {
			if (!ALL_TRANSPORTS.includes(t)) throw new TypeError('cometplay: unknown transport ' + JSON.stringify(t));
		}
		// The default frame page sits beside this module, which may come
		// from elsewhere: it is checked only when the iframe transport may
		// use it. A frameUrl given is always checked.
		if (options.frameUrl || list.includes('iframe')) {
			o.frameUrl = ownURL('frameUrl', o.frameUrl || new URL('./cometplay-frame.html', import.meta.url).href, base);
		} else {
			o.frameUrl = null;
		}
		list = list.filter(supported);
		if (list.length === 0) throw new CometError('protocol', 'no supported transport among ' + [].concat(o.transport).join(', '));
		o.transports = list;
		o.shared = o.shared && typeof BroadcastChannel === 'function' && typeof navigator === 'object' &&
			!!navigator.locks && typeof navigator.locks.request === 'function';
		this.#opts = o;
		this.#key = 'cometplay:' + o.name + ':' + o.url;
		this.#onPageHide = (e) => {
			if (!e.persisted && this.#opts.leaveOnPageHide) this.#shutdown(true);
		};
		this.#onPageShow = (e) => {
			if (e.persisted) this.#link?.kick();
		};
		this.#onOnline = () => this.#link?.kick();
	}

	/**
	 * on registers fn for events of type (see the class comment) and returns
	 * a function removing it.
	 * @param {string} type
	 * @param {(arg: any) => void} fn
	 * @returns {() => void}
	 */
	on(type, fn) {
		return this.#events.on(type, fn);
	}

	/**
	 * once registers fn for the next event of type only.
	 * @param {string} type
	 * @param {(arg: any) => void} fn
	 * @returns {() => void}
	 */
	once(type, fn) {
		return this.#events.once(type, fn);
	}

	/**
	 * off removes a listener registered with on.
	 * @param {string} type
	 * @param {(arg: any) => void} fn
	 */
	off(type, fn) {
		this.#events.off(type, fn);
	}

	#emit(type, arg) {
		this.#events.emit(type, arg);
	}

	/** state is the connection state (see State). */
	get state() { return this.#state; }

	/** transport is the name of the transport in use, or null. */
	get transport() { return this.#transport; }

	/**
	 * publicId is the session's public id: what other players see as p_from,
	 * and what they pass as p_to. All tabs of the browser share it. The secret
	 * session id is never exposed.
	 */
	get publicId() { return this.#session ? this.#session.publicId : null; }

	/** isLeader reports whether this tab holds the connection. */
	get isLeader() { return this.#isLeader; }

	/** lastSeq is the sequence number of the last session event received. */
	get lastSeq() { return this.#lastSeq; }

	/** subscriptions lists this tab's subscriptions. */
	get subscriptions() { return [...this.#mySubs.values()].map((s) => ({ ...s })); }

	/** options returns the effective options (URLs resolved). */
	get options() { return { ...this.#opts, backoff: { ...this.#opts.backoff } }; }

	/**
	 * connect starts the client: it joins (or, in a follower tab, finds the
	 * leader). It resolves when the data channel is first connected. Calling
	 * it again returns the same promise state.
	 * @returns {Promise<void>}
	 */
	connect() {
		if (this.#closed) return Promise.reject(new CometError('closed', 'client closed'));
		const ready = this.#state === State.CONNECTED ? Promise.resolve() :
			new Promise((resolve, reject) => this.#connectWaiters.push({ resolve, reject }));
		if (this.#started) return ready;
		this.#started = true;
		this.#setState(State.CONNECTING, null);
		if (typeof window === 'object' && window.addEventListener) {
			window.addEventListener('pagehide', this.#onPageHide);
			window.addEventListener('pageshow', this.#onPageShow);
			window.addEventListener('online', this.#onOnline);
		}
		if (this.#opts.shared) {
			this.#startShared().catch((err) => this.#emit('error', err));
		} else {
			this.#becomeLeader();
		}
		return ready;
	}

	/**
	 * subscribe subscribes this tab to subject (optionally with a label) and
	 * resolves with the subscription id (p_sid) once the server acknowledged.
	 * It survives reconnects and new sessions: the client subscribes again by
	 * itself. Subscribing twice to the same subject and label is harmless.
	 * @param {string} subject
	 * @param {string} [label]
	 * @returns {Promise<string>}
	 */
	subscribe(subject, label = '') {
		const key = subKey(subject, label);
		if (!this.#mySubs.has(key)) this.#mySubs.set(key, { subject, label });
		return this.#request('subscribe', { subject, label }).catch((err) => {
			if (err.code === 'nack') this.#mySubs.delete(key);
			throw err;
		});
	}

	/**
	 * unsubscribe ends this tab's subscription to subject/label. The server
	 * subscription ends when no tab of the browser wants it any more.
	 * @param {string} subject
	 * @param {string} [label]
	 * @returns {Promise<void>}
	 */
	unsubscribe(subject, label = '') {
		this.#mySubs.delete(subKey(subject, label));
		return this.#request('unsubscribe', { subject, label });
	}

	/**
	 * publish sends a data event to subject with the given fields (names
	 * [A-Za-z_][A-Za-z0-9_.-]*; values are converted to strings), to every
	 * subscriber, or only to the session with public id options.to. It
	 * resolves on publish-ack and rejects with a CometError ('nack' with the
	 * server's reason, 'network', 'interrupted', 'closed'). A publish is sent at
	 * most once: it is never retried after an error that leaves its fate open.
	 * With options.keepalive, the request outlives the page: for a last word
	 * sent from a pagehide handler (64 KiB at most, the browser's limit).
	 * @param {string} subject
	 * @param {Record<string, string|number|boolean>} [fields]
	 * @param {{to?: string, keepalive?: boolean}} [options]
	 * @returns {Promise<void>}
	 */
	publish(subject, fields = {}, options = {}) {
		return this.#request('publish', { subject, fields, to: options.to || '', keepalive: !!options.keepalive });
	}

	/**
	 * setPollWait asks, on the poll transport, for the server's answers
	 * every ms milliseconds rather than after the server's p_wait (6–10 s
	 * by default): a page does while a game is on. The server does not go
	 * below its floor (comet.Config.PollWaitFloor, 1 s by default), nor above
	 * its own wait. null goes back to the server's. The connection asks for
	 * the shortest wait its tabs ask for. Other transports are not affected
	 * (they deliver events as they happen).
	 * @param {number|null} ms
	 */
	setPollWait(ms) {
		this.#pollWait = ms === null || ms === undefined ? null : Math.max(0, Math.floor(ms));
		if (this.#closed || !this.#started) return;
		this.#request('pollWait', { ms: this.#pollWait }).catch(() => {});
	}

	/**
	 * close stops this tab's client. If it was the last tab of the browser
	 * using the session, the session is left (the server forgets it at once);
	 * otherwise another tab takes over the connection. Pending requests are
	 * rejected with code 'closed'.
	 */
	close() {
		this.#shutdown(false);
	}

	// #request runs an operation here (leader) or through the leader.
	#request(op, args) {
		if (this.#closed) return Promise.reject(new CometError('closed', 'client closed'));
		if (!this.#started) this.connect().catch(() => {});
		if (this.#link) return this.#perform(op, args, this.#tabId);
		return new Promise((resolve, reject) => {
			const id = ++this.#reqSeq;
			const p = { op, args, resolve, reject, sentTo: null };
			this.#pending.set(id, p);
			if (this.#leaderId) this.#sendRequest(id, p);
		});
	}

	#perform(op, args, owner) {
		const link = this.#link;
		switch (op) {
		case 'subscribe': return link.subscribe(args.subject, args.label, owner);
		case 'unsubscribe': return link.unsubscribe(args.subject, args.label, owner);
		case 'publish': return link.publish(args.subject, args.fields, args.to, args.keepalive);
		case 'pollWait':
			link.setPollWait(owner, args.ms);
			return Promise.resolve();
		}
		return Promise.reject(new CometError('protocol', 'unknown operation ' + op));
	}

	#sendRequest(id, p) {
		p.sentTo = this.#leaderId;
		this.#post({ k: 'req', to: this.#leaderId, id, op: p.op, args: p.args });
	}

	// A new leader: requests sent to the old one are sent again if that is
	// safe (subscribe, unsubscribe), else rejected ('interrupted').
	#redirectPending() {
		for (const [id, p] of this.#pending) {
			if (p.sentTo === this.#leaderId && !this.#link) continue;
			if (p.sentTo && p.op === 'publish') {
				this.#pending.delete(id);
				p.reject(new CometError('interrupted', 'the leader tab went away before answering'));
				continue;
			}
			if (this.#link) {
				this.#pending.delete(id);
				this.#perform(p.op, p.args, this.#tabId).then(p.resolve, p.reject);
			} else {
				this.#sendRequest(id, p);
			}
		}
	}

	#setState(state, transport) {
		const changedT = transport !== this.#transport && transport;
		const changedS = state !== this.#state;
		this.#transport = transport || this.#transport;
		this.#state = state;
		if (changedT) this.#emit('transport', transport);
		if (changedS) {
			this.#emit('state', { state, transport: this.#transport });
			if (state === State.CONNECTED) {
				const ws = this.#connectWaiters;
				this.#connectWaiters = [];
				for (const w of ws) w.resolve();
			}
		}
	}

	// #dispatch delivers a session event to this tab's application.
	#dispatch(ev) {
		this.#emit('event', ev);
		switch (ev.p_event) {
		case 'gap':
			this.#emit('gap', { from: Number(ev.p_gap_from), to: Number(ev.p_gap_to) });
			return;
		case 'data':
			if (ev.p_sid !== undefined && ev.p_subject !== undefined) {
				let mine = false;
				for (const s of this.#mySubs.values()) {
					if (subjectMatches(s.subject, ev.p_subject)) {
						mine = true;
						break;
					}
				}
				if (!mine) return; // another tab's subscription
			}
			this.#emit('data', ev);
		}
	}

	#sessionInfo() {
		return this.#session ? { id: this.#session.id, publicId: this.#session.publicId } : null;
	}

	#post(msg) {
		if (!this.#bc) return;
		msg.from = this.#tabId;
		try {
			this.#bc.postMessage(msg);
		} catch (err) {
			this.#emit('error', new CometError('protocol', 'BroadcastChannel: ' + err.message));
		}
	}

	async #startShared() {
		this.#bc = new BroadcastChannel(this.#key);
		this.#bc.onmessage = (e) => this.#onMessage(e.data);
		// Held for the tab's life: the leader watches it to learn when this tab is gone.
		await new Promise((granted, failed) => {
			navigator.locks.request(this.#key + ':tab:' + this.#tabId, () => {
				granted();
				return new Promise((release) => { this.#releaseTab = release; });
			}).catch(failed);
		});
		if (this.#closed) return;
		this.#post({ k: 'hello', subs: this.subscriptions, pollWait: this.#pollWait });
		// Queued behind the current leader; granted when it is gone.
		this.#leaderQueue = new AbortController();
		navigator.locks.request(this.#key + ':leader', { signal: this.#leaderQueue.signal }, () => {
			if (this.#closed) return undefined;
			this.#becomeLeader();
			return new Promise((release) => { this.#releaseLeader = release; });
		}).catch((err) => {
			if (!this.#closed) this.#emit('error', new CometError('protocol', 'Web Locks: ' + err.message));
		});
	}

	#becomeLeader() {
		this.#isLeader = true;
		this.#leaderId = this.#tabId;
		// Held events will come again: the link resumes from lastSeq.
		this.#clearHeld();
		const link = new Link(this.#opts, {
			state: (state, transport) => {
				this.#setState(state, transport);
				this.#post({ k: 'state', state, transport, session: this.#sessionInfo() });
			},
			session: ({ id, publicId, previous }) => {
				this.#session = { id, publicId };
				this.#lastSeq = 0;
				this.#post({ k: 'session', session: this.#sessionInfo(), previous });
				this.#emit('session', { publicId, previous });
			},
			event: (ev) => {
				if (ev.p_seq !== undefined && ev.p_event !== 'abort') this.#lastSeq = Number(ev.p_seq);
				this.#post({ k: 'ev', ev, session: this.publicId });
				this.#dispatch(ev);
			},
			fallback: (name, why) => this.#emit('error', new CometError('fallback', why + '; falling back to ' + name, { transport: name })),
			error: (err) => this.#emit('error', err),
		}, this.#session, this.#lastSeq, this.#transport);
		this.#link = link;
		for (const s of this.#mySubs.values()) link.subscribe(s.subject, s.label, this.#tabId).catch(() => {});
		link.setPollWait(this.#tabId, this.#pollWait);
		this.#post({ k: 'leader', session: this.#sessionInfo(), lastSeq: this.#lastSeq, state: this.#state, transport: this.#transport });
		this.#emit('leader', true);
		this.#redirectPending();
		link.start();
	}

	#watchFollower(tabId) {
		if (this.#followers.has(tabId)) return;
		const ctrl = new AbortController();
		this.#followers.set(tabId, ctrl);
		navigator.locks.request(this.#key + ':tab:' + tabId, { signal: ctrl.signal }, () => {
			this.#dropFollower(tabId);
		}).catch(() => {});
	}

	#dropFollower(tabId) {
		const ctrl = this.#followers.get(tabId);
		if (!ctrl) return;
		this.#followers.delete(tabId);
		ctrl.abort();
		this.#link?.dropOwner(tabId);
	}

	#adopt(msg) {
		const s = msg.session;
		if (s && (!this.#session || this.#session.id !== s.id)) {
			// Another session than the one we knew: start over at its
			// position. First contact: keep what we already received of it.
			const previous = this.#session ? this.#session.publicId : null;
			if (previous !== null) this.#clearHeld();
			this.#lastSeq = previous !== null ? msg.lastSeq || 0 : Math.max(this.#lastSeq, msg.lastSeq || 0);
			this.#session = { id: s.id, publicId: s.publicId };
			this.#positioned = true;
			this.#emit('session', { publicId: s.publicId, previous });
			this.#drainHeld();
		} else if (s) {
			this.#lastSeq = Math.max(this.#lastSeq, msg.lastSeq || 0);
			this.#positioned = true;
			this.#drainHeld();
		}
		if (msg.state && msg.state !== State.IDLE) this.#setState(msg.state, msg.transport);
	}

	// #followerEvent delivers an event the leader broadcast, in sequence
	// order, once, never losing one silently.
	#followerEvent(ev) {
		if (ev.p_event === 'abort') {
			this.#dispatch(ev);
			return;
		}
		const seq = Number(ev.p_seq);
		if (!(seq > this.#lastSeq)) return; // a duplicate
		const first = ev.p_event === 'gap' ? Number(ev.p_gap_from) : seq;
		if (!this.#positioned || first <= this.#lastSeq + 1) {
			this.#accept(ev);
			this.#drainHeld();
			return;
		}
		this.#held.set(seq, ev);
		this.#heldTimer ??= setTimeout(() => this.#giveUpHeld(), REORDER_WAIT);
	}

	#accept(ev) {
		this.#lastSeq = Number(ev.p_seq);
		this.#positioned = true;
		this.#dispatch(ev);
	}

	// #drainHeld delivers the held events that are now next in sequence.
	#drainHeld() {
		for (let progress = true; progress;) {
			progress = false;
			for (const [seq, ev] of this.#held) {
				if (seq <= this.#lastSeq) {
					this.#held.delete(seq);
					continue;
				}
				const first = ev.p_event === 'gap' ? Number(ev.p_gap_from) : seq;
				if (first <= this.#lastSeq + 1) {
					this.#held.delete(seq);
					this.#accept(ev);
					progress = true;
				}
			}
		}
		if (this.#held.size === 0) this.#clearHeld();
	}

	// #giveUpHeld reports the events that never came as a gap and goes on.
	#giveUpHeld() {
		this.#heldTimer = null;
		if (this.#held.size === 0) return;
		const seq = Math.min(...this.#held.keys());
		const ev = this.#held.get(seq);
		const first = ev.p_event === 'gap' ? Number(ev.p_gap_from) : seq;
		this.#accept({
			p_event: 'gap', p_gap_from: String(this.#lastSeq + 1), p_gap_to: String(first - 1),
			p_seq: String(first - 1), synthesized: 'true',
		});
		this.#drainHeld();
		if (this.#held.size > 0) this.#heldTimer = setTimeout(() => this.#giveUpHeld(), REORDER_WAIT);
	}

	#clearHeld() {
		this.#held.clear();
		clearTimeout(this.#heldTimer);
		this.#heldTimer = null;
	}

	#onMessage(msg) {
		if (!msg || typeof msg !== 'object' || this.#closed) return;
		if (msg.to && msg.to !== this.#tabId) return;
		if (this.#link) {
			// Leader.
			switch (msg.k) {
			case 'hello':
				this.#watchFollower(msg.from);
				for (const s of msg.subs || []) this.#link.subscribe(s.subject, s.label, msg.from).catch(() => {});
				this.#link.setPollWait(msg.from, typeof msg.pollWait === 'number' ? msg.pollWait : null);
				this.#post({ k: 'welcome', to: msg.from, session: this.#sessionInfo(), lastSeq: this.#lastSeq, state: this.#state, transport: this.#transport });
				return;
			case 'req':
				this.#watchFollower(msg.from);
				this.#perform(msg.op, msg.args, msg.from).then(
					(value) => this.#post({ k: 'res', to: msg.from, id: msg.id, ok: true, value }),
					(err) => this.#post({ k: 'res', to: msg.from, id: msg.id, ok: false, code: err.code || 'network', message: err.message }));
				return;
			case 'bye':
				this.#dropFollower(msg.from);
				return;
			}
			return;
		}
		// Follower.
		switch (msg.k) {
		case 'leader':
		case 'welcome': {
			if (msg.k === 'welcome' && this.#leaderId && msg.from !== this.#leaderId) return; // a stale answer
			const fresh = this.#leaderId !== msg.from;
			this.#leaderId = msg.from;
			this.#adopt(msg);
			// A new leader knows nothing of this tab: tell it our subscriptions.
			if (fresh && msg.k === 'leader') this.#post({ k: 'hello', to: msg.from, subs: this.subscriptions, pollWait: this.#pollWait });
			this.#redirectPending();
			return;
		}
		case 'state':
			// Only the current leader's: a late message of a leader that is
			// gone must not take us back to it.
			if (this.#leaderId && msg.from !== this.#leaderId) return;
			if (!this.#leaderId) {
				this.#leaderId = msg.from;
				this.#redirectPending();
			}
			if (msg.session && this.#session && msg.session.id !== this.#session.id) this.#adopt({ ...msg, lastSeq: 0 });
			this.#setState(msg.state, msg.transport);
			return;
		case 'session':
			if (this.#leaderId && msg.from !== this.#leaderId) return;
			if (!this.#leaderId) {
				this.#leaderId = msg.from;
				this.#redirectPending();
			}
			this.#session = msg.session;
			this.#lastSeq = 0;
			this.#clearHeld();
			this.#positioned = true;
			this.#emit('session', { publicId: msg.session.publicId, previous: msg.previous });
			return;
		case 'ev':
			// Any sender's, as long as it is of our session: the old
			// leader's last events may arrive after the new leader took over.
			if (this.#session && msg.session !== this.#session.publicId) return;
			this.#followerEvent(msg.ev);
			return;
		case 'res': {
			const p = this.#pending.get(msg.id);
			if (!p) return;
			this.#pending.delete(msg.id);
			if (msg.ok) p.resolve(msg.value);
			else p.reject(new CometError(msg.code, msg.message));
			return;
		}
		}
	}

	#shutdown(pageGone) {
		if (this.#closed) return;
		this.#closed = true;
		if (typeof window === 'object' && window.removeEventListener) {
			window.removeEventListener('pagehide', this.#onPageHide);
			window.removeEventListener('pageshow', this.#onPageShow);
			window.removeEventListener('online', this.#onOnline);
		}
		if (this.#link) {
			// The last tab out leaves the session; otherwise a follower takes
			// over and resumes it.
			this.#link.stop(this.#followers.size === 0, pageGone);
			for (const ctrl of this.#followers.values()) ctrl.abort();
			this.#followers.clear();
			this.#link = null;
		} else {
			this.#post({ k: 'bye' });
		}
		const err = new CometError('closed', 'client closed');
		for (const p of this.#pending.values()) p.reject(err);
		this.#pending.clear();
		for (const w of this.#connectWaiters) w.reject(err);
		this.#connectWaiters = [];
		this.#clearHeld();
		this.#leaderQueue?.abort(); // no effect once granted
		this.#releaseLeader?.();
		this.#releaseTab?.();
		this.#bc?.close();
		this.#bc = null;
		if (this.#isLeader) {
			this.#isLeader = false;
			this.#emit('leader', false);
		}
		this.#setState(State.CLOSED, null);
	}
}
