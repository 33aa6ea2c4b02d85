// Type declarations of cometplay.js, the browser client of the cometplay
// Comet server. docs/CLIENT.md is the manual.

/** Connection states. */
export declare const State: Readonly<{
	/** connect() not called yet. */
	IDLE: 'idle';
	/** Joining, or opening the first data channel. */
	CONNECTING: 'connecting';
	/** A data channel is open (its listen-ack arrived). */
	CONNECTED: 'connected';
	/** The data channel was lost; waiting (backoff) or opening a new one. */
	RECONNECTING: 'reconnecting';
	/** close() was called or the page went away; final. */
	CLOSED: 'closed';
}>;

export type ConnectionState = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'closed';

/**
 * A transport of the data channel:
 * - stream: fetch + ReadableStream, NDJSON (p_mode=stream, p_format=json);
 * - sse: EventSource (p_format=sse);
 * - iframe: a hidden iframe running Pushlet's js format (p_format=js), through
 *   the page cometplay-frame.html;
 * - long-poll: p_mode=pull, each refresh re-issued at once;
 * - poll: p_mode=poll, each refresh after the server's p_wait.
 */
export type Transport = 'stream' | 'sse' | 'iframe' | 'long-poll' | 'poll';

/** The automatic choice, best first: stream, sse, long-poll, poll. */
export declare const TRANSPORTS: readonly Transport[];

/** Why a CometError happened. */
export type CometErrorCode =
	| 'nack'
	| 'network'
	| 'http'
	| 'session'
	| 'protocol'
	| 'interrupted'
	| 'fallback'
	| 'closed';

/** The error of every rejected promise and of the 'error' event. */
export declare class CometError extends Error {
	constructor(code: CometErrorCode, message: string, detail?: object);
	readonly name: 'CometError';
	/** What happened; see CometErrorCode and docs/CLIENT.md. */
	readonly code: CometErrorCode;
	/** Extra information: the nack event, the HTTP status, the next transport... */
	readonly detail?: any;
}

/** Backoff between reconnection attempts: attempt n waits min(max, initial·2^(n-1)) ms, less up to jitter·100 %. */
export interface BackoffOptions {
	/** First delay in ms (default 500). */
	initial?: number;
	/** Largest delay in ms (default 30000). */
	max?: number;
	/** Random fraction removed from each delay, 0..1 (default 0.5). */
	jitter?: number;
}

export interface CometOptions {
	/**
	 * The protocol endpoint (default '/comet'), resolved against the page's
	 * URL. It must be an http(s) URL of the page's own origin: the
	 * constructor throws a TypeError otherwise (so do transportUrls and
	 * frameUrl).
	 */
	url?: string;
	/** 'auto' (default: stream, sse, long-poll, poll, as supported), one transport, or the list to try in order. */
	transport?: 'auto' | Transport | Transport[];
	/** Another URL for the data channel of some transports (a different proxy path, a test endpoint); same origin only. */
	transportUrls?: Partial<Record<Transport, string>>;
	/** ms a streaming transport waits for its listen-ack before deciding a proxy buffers it and falling back to long-poll (default 8000). */
	handshakeTimeout?: number;
	/** ms of silence after which a data channel is deemed dead; must exceed the server's heartbeat (20 s) (default 45000). */
	heartbeatTimeout?: number;
	/** ms a control request (join, subscribe, publish...) may take (default 15000). */
	requestTimeout?: number;
	/** Reconnection backoff. */
	backoff?: BackoffOptions;
	/** Consecutive failed attempts (never acknowledged) before the next transport of the list is tried (default 3). */
	fallbackAfter?: number;
	/** Share one session and one connection between the tabs of the browser (default true; needs BroadcastChannel and Web Locks). */
	shared?: boolean;
	/** Tabs share a connection only with clients of the same name and url (default 'default'). */
	name?: string;
	/** URL of cometplay-frame.html (default: beside cometplay.js); same origin only, checked when given or when the iframe transport may be used. */
	frameUrl?: string;
	/** Send leave with navigator.sendBeacon when the last tab's page goes away (default true). */
	leaveOnPageHide?: boolean;
}

/**
 * A server event: every field is a string. Data events have p_event 'data',
 * p_subject, p_seq, p_time, p_sid (multicast), p_from (publisher's public id,
 * absent when the server published), p_to (unicast), and the publisher's
 * fields.
 */
export interface CometEvent {
	p_event: string;
	p_seq?: string;
	p_subject?: string;
	p_sid?: string;
	p_from?: string;
	p_to?: string;
	p_time?: string;
	[field: string]: string | undefined;
}

export interface GapInfo {
	/** First lost sequence number. */
	from: number;
	/** Last lost sequence number. */
	to: number;
}

export interface SessionInfo {
	/** The new session's public id. */
	publicId: string;
	/** The public id of the session it replaces, or null for the first one. */
	previous: string | null;
}

export interface StateInfo {
	state: ConnectionState;
	transport: Transport | null;
}

export interface CometEventMap {
	data: CometEvent;
	event: CometEvent;
	gap: GapInfo;
	state: StateInfo;
	transport: Transport;
	session: SessionInfo;
	leader: boolean;
	error: CometError;
}

/** Options of publish. */
export interface PublishOptions {
	/** Public id of the only session to receive the event (unicast). */
	to?: string;
	/** Let the request outlive the page (fetch keepalive): for a last word sent from a pagehide handler. */
	keepalive?: boolean;
}

export interface Subscription {
	subject: string;
	label: string;
}

/**
 * A minimal event emitter; a throwing listener does not stop the others (its
 * error is rethrown asynchronously). CometClient and RoomsClient keep one.
 */
export declare class Emitter {
	/** Registers a listener; returns a function removing it. */
	on(type: string, fn: (arg: any) => void): () => void;
	/** Registers a listener for the next event only. */
	once(type: string, fn: (arg: any) => void): () => void;
	/** Removes a listener. */
	off(type: string, fn: (arg: any) => void): void;
	/** Calls the listeners of type with arg. */
	emit(type: string, arg?: any): void;
}

/** The client of one tab. */
export declare class CometClient {
	/** @throws {TypeError} for an unknown transport, or a URL option that is not an http(s) URL of the page's origin. */
	constructor(options?: CometOptions);

	/** Effective options (URLs resolved, transports filtered by support). */
	readonly options: Required<CometOptions> & { transports: Transport[] };
	readonly state: ConnectionState;
	/** The transport in use, or null before the first connection. */
	readonly transport: Transport | null;
	/** The session's public id (shared by the browser's tabs), or null before joining. */
	readonly publicId: string | null;
	/** Whether this tab holds the browser's connection. */
	readonly isLeader: boolean;
	/** Sequence number of the last session event received. */
	readonly lastSeq: number;
	/** This tab's subscriptions. */
	readonly subscriptions: Subscription[];

	/** Starts the client; resolves when the data channel is first connected. */
	connect(): Promise<void>;
	/** Subscribes this tab; resolves with the subscription id (p_sid). Kept across reconnects and new sessions. */
	subscribe(subject: string, label?: string): Promise<string>;
	/** Ends this tab's subscription; the server's ends when no tab needs it. */
	unsubscribe(subject: string, label?: string): Promise<void>;
	/** Publishes a data event (at most once); rejects with the server's nack reason. */
	publish(subject: string, fields?: Record<string, string | number | boolean>, options?: PublishOptions): Promise<void>;
	/**
	 * Asks, on the poll transport, for the server's answers every ms (not
	 * below the server's comet.Config.PollWaitFloor, 1 s by default, nor above
	 * its own wait); null: the server's wait. The connection asks for the
	 * shortest wait of its tabs.
	 */
	setPollWait(ms: number | null): void;
	/** Stops this tab's client; the last tab out leaves the session. */
	close(): void;

	/** Registers a listener; returns a function removing it. */
	on<K extends keyof CometEventMap>(type: K, fn: (arg: CometEventMap[K]) => void): () => void;
	/** Registers a listener for the next event only. */
	once<K extends keyof CometEventMap>(type: K, fn: (arg: CometEventMap[K]) => void): () => void;
	/** Removes a listener. */
	off<K extends keyof CometEventMap>(type: K, fn: (arg: CometEventMap[K]) => void): void;
}

/** Reports whether a subscription subject receives events published to subject (the server's rules). */
export declare function subjectMatches(subscription: string, subject: string): boolean;
