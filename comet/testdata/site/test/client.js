// Test harness of static/js/cometplay.js, driven by engine/browser_client_test.go
// and engine/hardening_web_test.go. It is served from the tests' webroot
// (engine/testdata/site), never from the embedded site: it builds a client
// from whatever the URL says.
//
// Query: ?opts=<JSON of CometClient options>[&connect=0]. The page records
// everything the client emits in window.T, which the Go test reads.
import { CometClient, State } from '../js/cometplay.js';

const q = new URLSearchParams(location.search);
const opts = JSON.parse(q.get('opts') || '{}');
const T = {
	data: [], events: [], gaps: [], states: [], sessions: [], errors: [], transports: [], leader: [],
	CometClient,
	// values returns field name of the data events (of subject, if given).
	values(name, subject) {
		return T.data.filter((e) => !subject || e.p_subject === subject).map((e) => e[name]);
	},
	connected() {
		return T.client.state === State.CONNECTED;
	},
};
window.T = T;

const status = document.getElementById('status');
const logEl = document.getElementById('log');
function log(line) {
	logEl.textContent += new Date().toISOString().slice(11, 23) + ' ' + line + '\n';
}
function show() {
	status.textContent = `${T.client.state} via ${T.client.transport || '-'}, ` +
		`${T.client.isLeader ? 'leader' : 'follower'}, lastSeq ${T.client.lastSeq}, ${T.data.length} data`;
}

const client = new CometClient(opts);
T.client = client;
client.on('data', (ev) => { T.data.push(ev); log('data ' + JSON.stringify(ev)); show(); });
client.on('event', (ev) => { T.events.push(ev); });
client.on('gap', (g) => { T.gaps.push(g); log('gap ' + JSON.stringify(g)); });
client.on('state', (s) => { T.states.push(s.state); log('state ' + s.state + ' ' + (s.transport || '')); show(); });
client.on('transport', (t) => { T.transports.push(t); log('transport ' + t); show(); });
client.on('session', (s) => { T.sessions.push(s); log('session ' + JSON.stringify(s)); show(); });
client.on('leader', (l) => { T.leader.push(l); log('leader ' + l); show(); });
client.on('error', (e) => { T.errors.push({ code: e.code, message: e.message }); log('error ' + e.code + ': ' + e.message); });
if (q.get('connect') !== '0') {
	client.connect().catch((e) => log('connect: ' + e.message));
}
show();
