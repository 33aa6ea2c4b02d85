// ui.js — DOM helpers of the cometplay pages. Every piece of text reaches
// the page through textContent or text nodes, never as HTML: names, room
// labels and chat lines are chosen by players.

/** $ returns the element with the given id. */
export function $(id) {
	const e = document.getElementById(id);
	if (!e) throw new Error('ui: no element #' + id);
	return e;
}

/**
 * el creates an element. props: class, text (textContent), dataset (object),
 * attrs (attributes), and any other property set directly (type, disabled…).
 * Children are nodes or strings (which become text nodes).
 * @param {string} tag
 * @param {object} [props]
 * @param {...(Node|string|null|undefined|false)} children
 * @returns {HTMLElement}
 */
export function el(tag, props = {}, ...children) {
	const e = document.createElement(tag);
	for (const [k, v] of Object.entries(props)) {
		if (v === undefined || v === null) continue;
		switch (k) {
		case 'class': e.className = v; break;
		case 'text': e.textContent = v; break;
		case 'dataset': Object.assign(e.dataset, v); break;
		case 'attrs': for (const [a, av] of Object.entries(v)) e.setAttribute(a, av); break;
		default: e[k] = v;
		}
	}
	for (const c of children) {
		if (c !== null && c !== undefined && c !== false) e.append(c);
	}
	return e;
}

/** show sets whether an element is displayed. */
export function show(e, visible) {
	e.hidden = !visible;
}

/** setText changes an element's text only when it differs (no needless announcements). */
export function setText(e, text) {
	if (e.textContent !== text) e.textContent = text;
}

/** setData sets data-* attributes, removing those given as null. */
export function setData(e, values) {
	for (const [k, v] of Object.entries(values)) {
		if (v === null || v === undefined) delete e.dataset[k];
		else if (e.dataset[k] !== String(v)) e.dataset[k] = String(v);
	}
}

/**
 * replaceChildrenKeepingFocus rebuilds a container's children and puts the
 * focus back on the rebuilt control that had it (matched by data-key), so
 * live updates of a list do not throw a keyboard user out of it.
 * @param {HTMLElement} box
 * @param {Node[]} children
 */
export function replaceChildrenKeepingFocus(box, children) {
	const active = document.activeElement;
	const key = active && box.contains(active) ? active.dataset.key : undefined;
	box.replaceChildren(...children);
	if (key !== undefined) {
		const again = [...box.querySelectorAll('[data-key]')].find((x) => x.dataset.key === key);
		(again || box.closest('section') || box).focus?.();
	}
}

/** reason turns a server's reason ("lobby: too many messages, slow down") into a sentence. */
export function reason(text) {
	const s = String(text || 'something went wrong').replace(/^(rooms|lobby|httpcodec|engine): /, '');
	return s.charAt(0).toUpperCase() + s.slice(1);
}

const TOAST_MS = 6000;

/**
 * toast shows a short message in the corner for a few seconds.
 * @param {string} text
 * @param {'info'|'error'} [kind]
 */
export function toast(text, kind = 'info') {
	const box = document.getElementById('toasts');
	if (!box) return;
	const t = el('div', { class: 'toast ' + kind, text, attrs: { role: kind === 'error' ? 'alert' : 'status' } });
	box.append(t);
	while (box.children.length > 4) box.firstElementChild.remove();
	setTimeout(() => t.remove(), TOAST_MS);
}

/** seconds formats a remaining time in ms as "0:07". */
export function clock(ms) {
	const s = Math.max(0, Math.ceil(ms / 1000));
	return Math.floor(s / 60) + ':' + String(s % 60).padStart(2, '0');
}

/** time formats a Unix ms timestamp as the local "14:05". */
export function time(ms) {
	const d = new Date(ms);
	return String(d.getHours()).padStart(2, '0') + ':' + String(d.getMinutes()).padStart(2, '0');
}
