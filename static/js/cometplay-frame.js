// The script of the iframe transport's intermediate page,
// cometplay-frame.html (Pushlet's js-pushlet-net.html). It is a file of its
// own, not an inline script, so that the page runs under a
// Content-Security-Policy that refuses inline script.
//
// cometplay.js loads the page in a hidden iframe with the hash
// "#cb=NAME&src=LISTEN_URL". It opens the listen URL (p_format=js) in an inner
// frame; the server's streamed document calls parent.push('name', "value", ...)
// once per event, and parent is this page. push hands the arguments to the
// application window's function NAME, and NAME(null) tells that the listen
// document ended. Written in ES3 on purpose: the frame must run wherever the
// page that embeds it does.
(function () {
	var params = {};
	var hash = location.hash.replace(/^#/, '').split('&');
	for (var i = 0; i < hash.length; i++) {
		var eq = hash[i].indexOf('=');
		if (eq > 0) {
			params[decodeURIComponent(hash[i].slice(0, eq).replace(/\+/g, ' '))] =
				decodeURIComponent(hash[i].slice(eq + 1).replace(/\+/g, ' '));
		}
	}
	var cb = params.cb;
	var ended = false;

	function deliver(args) {
		var fn = cb && parent !== window ? parent[cb] : null;
		if (typeof fn === 'function') {
			fn(args);
		}
	}

	// push is what the server's script elements call.
	window.push = function () {
		if (!ended) {
			deliver(Array.prototype.slice.call(arguments));
		}
	};

	// isListen reports whether the query of url asks for a listen and
	// nothing else: every p_event parameter, however its name is encoded,
	// is "listen". A listen needs the session's secret id, which only the
	// page that embeds this frame has. This page is on the game's origin,
	// so the frames it opens make requests of the game's own origin: another
	// site that frames it (or frames it within itself) must not make it
	// open anything else, a join above all.
	function isListen(url) {
		var q = url.indexOf('?');
		var pairs = q < 0 ? [] : url.slice(q + 1).split('#')[0].split('&');
		var listens = 0;
		for (var i = 0; i < pairs.length; i++) {
			var eq = pairs[i].indexOf('=');
			var name = eq < 0 ? pairs[i] : pairs[i].slice(0, eq);
			var value = eq < 0 ? '' : pairs[i].slice(eq + 1);
			try {
				name = decodeURIComponent(name.replace(/\+/g, ' '));
				value = decodeURIComponent(value.replace(/\+/g, ' '));
			} catch (e) {
				return false;
			}
			if (name === 'p_event') {
				if (value !== 'listen') {
					return false;
				}
				listens++;
			}
		}
		return listens > 0;
	}

	function open() {
		// Only inside a page, and same origin only: the listen document
		// calls parent.push, which a document of another origin cannot do
		// anyway.
		if (parent === window) {
			return;
		}
		var origin = location.protocol + '//' + location.host + '/';
		var src = params.src || '';
		if (src.slice(0, origin.length) !== origin && !/^\/[^\/\\]/.test(src) || !isListen(src)) {
			return;
		}
		var f = document.createElement('iframe');
		f.name = 'listenFrame';
		// Fires when the listen document is complete: a stream ended, or an
		// error page (HTTP 400) was shown.
		var done = function () {
			if (!ended) {
				ended = true;
				deliver(null);
			}
		};
		if (f.addEventListener) {
			f.addEventListener('load', done, false);
		} else {
			f.attachEvent('onload', done);
		}
		f.src = src;
		document.body.appendChild(f);
	}

	if (document.body) {
		open();
	} else if (window.addEventListener) {
		window.addEventListener('DOMContentLoaded', open, false);
	} else {
		window.attachEvent('onload', open);
	}
})();
