// store.js — what a browser remembers about its players.
//
// A "profile" is one player of this browser: a name and the reconnection
// tokens of the seats it holds. The tabs showing one profile share one
// Comet session (the CometClient is named after the profile), so two tabs
// of one player use one connection; two profiles (two names) are two
// players, even in one browser. Profiles live in localStorage, so a reload
// or a new tab finds its seat again; the profile a tab shows is in its
// sessionStorage, so a reload stays the same player.

const PROFILES = 'cometplay.profiles';
const TAB = 'cometplay.profile';
const LOCK_PREFIX = 'cometplay-app:';
// Profiles not used for this long and holding no seat are forgotten.
const FORGET_AFTER = 7 * 24 * 3600 * 1000;

/**
 * @typedef {{name: string, seats: Object<string, string>, watching: string|null, at: number}} Profile
 * seats maps a room id to the private reconnection token of this player's seat in it.
 */

function read() {
	try {
		const v = JSON.parse(localStorage.getItem(PROFILES) || '{}');
		return v && typeof v === 'object' ? v : {};
	} catch {
		return {};
	}
}

function write(all) {
	try {
		localStorage.setItem(PROFILES, JSON.stringify(all));
	} catch {
		// Storage full or disabled: the game still works, a reload just
		// cannot reclaim the seat.
	}
}

/** profiles returns every profile of this browser by key. */
export function profiles() {
	const all = read();
	const now = Date.now();
	let pruned = false;
	for (const [k, p] of Object.entries(all)) {
		if (!p || typeof p.name !== 'string' || (now - (p.at || 0) > FORGET_AFTER && Object.keys(p.seats || {}).length === 0)) {
			delete all[k];
			pruned = true;
		}
	}
	if (pruned) write(all);
	return all;
}

/** get returns one profile, or null. */
export function get(key) {
	const p = read()[key];
	return p && typeof p.name === 'string' ? { seats: {}, watching: null, ...p } : null;
}

/**
 * update changes a profile (creating it) with fn and saves it.
 * @param {string} key
 * @param {(p: Profile) => void} fn
 * @returns {Profile}
 */
export function update(key, fn) {
	const all = read();
	const p = { name: '', seats: {}, watching: null, ...(all[key] || {}) };
	p.seats = { ...p.seats };
	fn(p);
	p.at = Date.now();
	all[key] = p;
	write(all);
	return p;
}

/** newKey returns a fresh profile key. */
export function newKey() {
	const b = new Uint8Array(9);
	crypto.getRandomValues(b);
	return btoa(String.fromCharCode(...b)).replace(/\+/g, '-').replace(/\//g, '_');
}

/** tabProfile returns the key of the profile this tab shows, or null. */
export function tabProfile() {
	try {
		return sessionStorage.getItem(TAB);
	} catch {
		return null;
	}
}

/**
 * setTabProfile remembers the profile this tab shows (kept across reloads);
 * null forgets it.
 * @param {string|null} key
 */
export function setTabProfile(key) {
	try {
		if (key === null) sessionStorage.removeItem(TAB);
		else sessionStorage.setItem(TAB, key);
	} catch {
		// Without sessionStorage a reload asks for the name again.
	}
}

/** remove forgets a profile (its name and its seats' tokens). */
export function remove(key) {
	const all = read();
	if (!(key in all)) return;
	delete all[key];
	write(all);
}

// The locks holdTab took: lock name → its release (null until granted).
const held = new Map();

/**
 * holdTab marks this tab as showing profile key, until releaseTab or the
 * tab goes away (a Web Lock).
 */
export function holdTab(key, tabId) {
	if (!navigator.locks || typeof navigator.locks.request !== 'function') return;
	const name = LOCK_PREFIX + key + ':' + tabId;
	held.set(name, null);
	// Released at once if releaseTab came before the lock.
	navigator.locks.request(name, () => held.has(name) ? new Promise((release) => held.set(name, release)) : undefined).catch(() => {});
}

/** releaseTab ends holdTab: the tab no longer shows profile key. */
export function releaseTab(key, tabId) {
	const name = LOCK_PREFIX + key + ':' + tabId;
	held.get(name)?.();
	held.delete(name);
}

/** tabsOf resolves to the number of tabs of this browser showing profile key. */
export async function tabsOf(key) {
	if (!navigator.locks || typeof navigator.locks.query !== 'function') return 1;
	try {
		const q = await navigator.locks.query();
		return (q.held || []).filter((l) => l.name && l.name.startsWith(LOCK_PREFIX + key + ':')).length;
	} catch {
		return 1;
	}
}

/**
 * liveProfiles resolves to the keys of the profiles some tab of this
 * browser shows now (but the tab butTab).
 * @param {string} [butTab]
 */
export async function liveProfiles(butTab) {
	const live = new Set();
	if (!navigator.locks || typeof navigator.locks.query !== 'function') return live;
	try {
		const q = await navigator.locks.query();
		for (const l of q.held || []) {
			if (!l.name || !l.name.startsWith(LOCK_PREFIX)) continue;
			const [key, tab] = l.name.slice(LOCK_PREFIX.length).split(':');
			if (tab !== butTab) live.add(key);
		}
	} catch {
		// No answer: treat every profile as idle.
	}
	return live;
}
