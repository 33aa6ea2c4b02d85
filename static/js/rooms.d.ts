// Type declarations of rooms.js, the rooms client of the browser (a player
// of cometplay's lobby and rooms, on top of cometplay.js). docs/CLIENT.md,
// "The rooms client", is the manual; docs/ROOMS.md, "What the browser
// sees", lists the events behind the model. `make test` checks these
// declarations against rooms.js (tools/ts).

import type { CometClient, CometOptions } from './cometplay.js';

/** How long (ms) a lobby request waits for its answer event (ask). */
export declare const ASK_TIMEOUT: number;
/** The sends of one move whose fate stays unknown (network errors), in all. */
export declare const MOVE_TRIES: number;
/** The poll wait (ms) asked of the server while the player is in a room or waits for an answer (CometClient.setPollWait). */
export declare const HURRY_WAIT: number;
/** The chat lines the model keeps. */
export declare const CHAT_KEEP: number;

/** A player in the lobby. */
export interface Player {
	id: string;
	name: string;
}

/** A player in a room. */
export interface SeatedPlayer extends Player {
	/** The seat from 0; -1 for a spectator. */
	seat: number;
	/** false while the seat is held for a player whose connection went away. */
	connected: boolean;
}

/** A room of the lobby's list. */
export interface RoomInfo {
	id: string;
	game: string;
	label: string;
	state: 'waiting' | 'playing' | 'finished';
	players: SeatedPlayer[];
	spectators: number;
	min_players: number;
	max_players: number;
	locked: boolean;
}

/**
 * The rules of a game: how the room's own state (Room.game) is built from
 * the room's events. apply sees every event of the room, the runtime's
 * (joined, turn, finished…) after rooms.js applied them to the room, and the
 * game's own ("state", the snapshot, and whatever the game broadcasts or
 * sends). It may change the room too (a snapshot's result). The state must
 * be plain data: tabs copy it to each other.
 */
export interface GameRules<S = any> {
	initial(): S;
	apply(state: S, type: string, data: any, room: Room<S>): void;
}

/** Whose turn it is, by the local clock. */
export interface Turn {
	/** The player id. */
	player: string;
	/** Local Unix ms when the turn's clock runs out; 0: no clock. */
	deadline: number;
}

/** What the session knows of one room. */
export interface Room<S = any> {
	id: string;
	/** A "joined" arrived: the player is (or was) seated or watching. */
	joined: boolean;
	seat: number | null;
	/** The player, as the room knows it. */
	me: SeatedPlayer | null;
	spectator: boolean;
	/** The seated players, by seat. */
	players: SeatedPlayer[];
	/** Player id → name, of everyone seated here so far. */
	names: Record<string, string>;
	state: 'waiting' | 'playing' | 'finished';
	locked: boolean;
	/** The seat's last applied move (the next one is seq + 1). */
	seq: number;
	turn: Turn | null;
	/** What the game passed to Finish; null while not finished. */
	result: any;
	/** Player id → true: asked for a rematch. */
	votes: Record<string, boolean>;
	/** Player id → local Unix ms when its held seat is given up. */
	dropped: Record<string, number>;
	/** Why the player is out of the room (left, dropped, kicked…), or null. */
	left: string | null;
	/** Why the room closed, or null. */
	closed: string | null;
	kicked: string | null;
	/** Why a join was refused, or null. */
	rejected: string | null;
	/** The game's own state (GameRules). */
	game: S;
}

/** A chat line. */
export interface ChatLine {
	from: Player;
	text: string;
	/** Unix ms when the lobby accepted it. */
	ts: number;
	/** It came with the lobby's history (said while the session was away), not live. */
	earlier?: boolean;
}

/** What one session knows, built from the events the server pushed. */
export interface Model<S = any> {
	/** The session's public id. */
	session: string;
	/** The last session event applied. */
	seq: number;
	/** The player, once welcomed. */
	me: Player | null;
	/** The players the lobby shows, by name then id. */
	online: Player[];
	/** Every player online. */
	onlineCount: number;
	/** The rooms the lobby shows, by id. */
	rooms: Record<string, RoomInfo>;
	/** Every room listed. */
	roomsCount: number;
	chat: ChatLine[];
	/** The quick-play queue while the player waits in it. */
	queue: { game: string; waiting: number; needed: number } | null;
	/** Why the last wait in the queue ended without a match (no opponent in time…), or ''. */
	queueError: string;
	/** The rooms the player is or was in, by id. */
	games: Record<string, Room<S>>;
}

/** A move sent and not yet applied. */
export interface PendingMove {
	move: string;
	seq: number;
	type: string;
	data: any;
}

/** A page of the lobby's list ("list"). */
export interface Page {
	what: string;
	offset: number;
	count: number;
	rooms?: RoomInfo[];
	online?: Player[];
}

export interface RoomsOptions<S = any> {
	/** The game's rules (default: the room's game state keeps the last snapshot as {snapshot}). */
	game?: GameRules<S>;
	/** Options of the CometClient (its name is the player's). */
	comet?: CometOptions;
	/** The room the page shows, or null: its seat is the one a hello reclaims first. */
	currentRoom?: () => string | null;
}

export interface RoomsEventMap {
	/** The model or the client's status changed. */
	change: undefined;
	/** A request of this tab put the player in a room (created, matched). */
	enter: { room: string };
	/** Something to tell the player. */
	notice: { text: string; kind: 'info' | 'error' };
	/** A new Comet session: what was fetched for the old one is stale. */
	session: undefined;
	/** Events were lost: the model may be incomplete. */
	gap: undefined;
}

/** One tab's player of the lobby and its rooms. */
export declare class RoomsClient<S = any> {
	constructor(options?: RoomsOptions<S>);

	/** Registers a listener; returns a function removing it. */
	on<K extends keyof RoomsEventMap>(type: K, fn: (arg: RoomsEventMap[K]) => void): () => void;

	/** The player's CometClient, or null before a player is chosen. */
	readonly comet: CometClient | null;
	/** What the player's session knows, or null. */
	readonly model: Model<S> | null;
	/** 'idle': no player chosen; 'failed': the hello was refused (helloError); 'loading'; 'ready': welcomed. */
	readonly status: 'idle' | 'failed' | 'loading' | 'ready';
	readonly hello: 'none' | 'sent' | 'failed' | 'done';
	readonly helloError: string;
	/** The room being entered (joined, watched, reclaimed), or null. */
	readonly joining: string | null;
	/** Whether events were lost since the session began. */
	readonly gapSeen: boolean;
	/** What the lobby acknowledged of this tab's browse, or null. */
	readonly browseAcked: boolean | null;

	/** Starts as the player this tab showed before, or the one of this browser seated in room; resolves to whether it started. */
	resume(room?: string | null): Promise<boolean>;
	/** The players other tabs of this browser show now. */
	livePlayers(): Promise<{ key: string; name: string }[]>;
	/** The name this browser used last, or ''. */
	lastName(): string;
	/** Starts as the player called name (this browser's, with its seats, or a new one); after a refused hello, says hello again with it. */
	play(name: string): Promise<void>;
	/** The number of the player's other tabs in this browser: the same player, never its opponent. */
	otherTabs(): Promise<number>;
	/** Starts as the player key of livePlayers: the same player as those tabs. */
	continueAs(key: string): void;
	/** Renames the player; rejects with the lobby's reason. */
	rename(name: string): Promise<void>;
	/** Stops this tab being the player (the last tab out leaves the session). */
	signOut(): Promise<void>;

	/** The model of a room, or null. */
	room(id: string | null): Room<S> | null;

	/** Publishes a lobby action with a req naming this tab; resolves on publish-ack. */
	lobby(action: string, fields?: Record<string, string | number | boolean | null | undefined>, options?: { req?: string; keepalive?: boolean }): Promise<void>;
	/** Performs a lobby action and resolves with the data of its answer event of type reply. */
	ask(action: string, fields: Record<string, string | number | boolean | null | undefined>, reply: string): Promise<any>;
	quickplay(game: string): Promise<{ game: string; waiting: number; needed: number }>;
	cancelQuickplay(): Promise<void>;
	/** Creates a room and seats the player; resolves with its id ('enter' fires too). */
	create(game: string, options?: Record<string, string>, label?: string): Promise<string>;
	join(room: string, options?: Record<string, string>): Promise<void>;
	spectate(room: string, options?: Record<string, string>): Promise<void>;
	leave(room: string): Promise<void>;
	chat(text: string): Promise<void>;
	list(what: 'rooms' | 'players', offset: number): Promise<Page>;
	/** Says whether this tab shows the lobby. */
	browse(on: boolean): void;

	/** Sends a move (id and sequence number added); resolves on its ack. */
	move(room: string, type: string, data: any): Promise<void>;
	/** The move sent in room and not yet applied, or null. */
	pending(room: string): PendingMove | null;
	/** Sends a message that is not a move. */
	send(room: string, type: string, data?: any): Promise<void>;
	rematch(room: string): Promise<void>;
}

/** The model of a session that has heard nothing yet. */
export declare function emptyModel(session: string): Model;
/** Turns a Comet data event into {subject, type, data}, or null. */
export declare function decode(ev: Record<string, string | undefined>): { subject: string; type: string; data: any } | null;
/** The room id of a /room/<id> subject, or null. */
export declare function roomOf(subject: string): string | null;
/** Changes the model by one decoded event. */
export declare function apply<S>(m: Model<S>, e: { subject: string; type: string; data: any }, now: number, rules?: GameRules<S>): void;
/** Whether the player is (still) in the room: seated or watching, and the room not closed. */
export declare function active(g: Room | null | undefined): boolean;
/** The lobby's order of players: by name, then id. */
export declare function byPlayer(a: Player, b: Player): number;
/** The lobby's order of rooms: waiting, playing, finished, then by id. */
export declare function byRoom(a: { id: string; state: string }, b: { id: string; state: string }): number;
/** The rooms the lobby shows, in its order. */
export declare function shownRooms(m: Model): RoomInfo[];
