// StanzaJS (a real web client library) over BOSH (XEP-0124 / XEP-0206) or
// WebSocket (RFC 7395), as in a browser: it logs in at URL, sends PEER a
// message and waits for the answer, then ends the session. It reports the
// SASL mechanism, the transport and whether stream management came on.
// DOMAIN is in no DNS: it is looked up as 127.0.0.1 here.
// Usage: node client.mjs bosh|websocket URL DOMAIN USER PASSWORD PEER
// (the CA to trust in NODE_EXTRA_CA_CERTS).
import dns from "node:dns";
import * as XMPP from "stanza";

const [transport, url, domain, user, pass, peer] = process.argv.slice(2);
if (!peer || (transport !== "bosh" && transport !== "websocket")) {
  console.error("usage: node client.mjs bosh|websocket URL DOMAIN USER PASSWORD PEER");
  process.exit(2);
}
const lookup = dns.lookup;
dns.lookup = (host, opts, cb) => {
  if (typeof opts === "function") [opts, cb] = [{}, opts];
  if (host !== domain) return lookup(host, opts, cb);
  if (opts && opts.all) return cb(null, [{ address: "127.0.0.1", family: 4 }]);
  return cb(null, "127.0.0.1", 4);
};

const log = [];
let step = "start";
function fail(msg) {
  console.error("FAIL:", msg, "while:", step);
  console.error(log.join("\n"));
  process.exit(1);
}
setTimeout(() => fail("timeout (25 s)"), 25000).unref();

const client = XMPP.createClient({
  jid: `${user}@${domain}`,
  password: pass,
  resource: "stanzajs",
  transports: { [transport]: url },
  transportPreferenceOrder: [transport],
});
// StanzaJS 12 picks SCRAM-*-PLUS whenever it is offered, and then sends no
// channel binding ("n,,"), which a server must refuse (RFC 5802 6). Over
// BOSH Hearth offers no -PLUS (a session has no one TLS connection to
// bind to); over WebSocket it does (tls-exporter), so the WebSocket run
// turns them off as a page using StanzaJS has to.
if (transport === "websocket") {
  client.sasl.disable("SCRAM-SHA-256-PLUS");
  client.sasl.disable("SCRAM-SHA-1-PLUS");
}
let mechanism = null;
client.on("raw:outgoing", (data) => {
  log.push("out: " + data);
  const m = /<auth [^>]*mechanism=["']([^"']+)/.exec(data) || /<authenticate [^>]*mechanism=["']([^"']+)/.exec(data);
  if (m) mechanism = m[1];
});
client.on("raw:incoming", (data) => log.push("in:  " + data));
client.on("auth:failed", () => fail("the login was refused"));
client.on("stream:error", (err) => fail("stream error " + JSON.stringify(err)));

let answered = false;
client.on("session:started", async () => {
  console.log("logged in as", client.jid, "with", mechanism, "over", transport, url);
  if (!client.jid.startsWith(`${user}@${domain}/`)) fail("bound to " + client.jid);
  step = "send";
  client.sendPresence();
  client.sendMessage({ to: peer, type: "chat", id: "sj1", body: `hello from StanzaJS over ${transport}` });
  step = "wait for the answer";
});
client.on("chat", (msg) => {
  if (msg.from !== peer || !msg.body) return;
  if (msg.delay) {
    // Kept offline from an earlier session (one that ended with it
    // unacknowledged under stream management): not this run's answer.
    console.log("offline, from before:", msg.body);
    return;
  }
  console.log("received:", msg.body);
  if (msg.body !== `hello back over TCP to ${transport}`) fail("answer " + JSON.stringify(msg.body));
  console.log("stream management:", client.sm.started ? "on" : "off", "resumable", client.sm.id ? "yes" : "no");
  answered = true;
  step = "disconnect";
  client.disconnect();
});
client.on("--transport-disconnected", () => {
  if (!answered) fail("disconnected before the answer");
  console.log("ended");
  process.exit(0);
});
step = "connect";
client.connect();
