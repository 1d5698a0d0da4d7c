// xmpp.js over WebSocket (RFC 7395), as in a browser: it logs in at
// wss://DOMAIN:PORT/xmpp-websocket, sends PEER a message and waits for the
// answer; it reports the SASL mechanism and whether stream management
// came on. Then it logs in again over WebSocket with the FAST token it was
// given (XEP-0484) and a wrong password: the token must be what logs it in. Node 20 has WebSocket behind --experimental-websocket (global
// from Node 22). DOMAIN is in no DNS: it is looked up as 127.0.0.1 here.
// Usage: node [--experimental-websocket] websocket.mjs PORT DOMAIN USER PASSWORD PEER
// (the CA to trust in NODE_EXTRA_CA_CERTS).
import dns from "node:dns";
import { client, xml } from "@xmpp/client";

const [port, domain, user, pass, peer] = process.argv.slice(2);
if (!peer) {
  console.error("usage: node --experimental-websocket websocket.mjs PORT DOMAIN USER PASSWORD PEER");
  process.exit(2);
}
const lookup = dns.lookup;
dns.lookup = (host, opts, cb) => {
  if (typeof opts === "function") [opts, cb] = [{}, opts];
  if (host !== domain) return lookup(host, opts, cb);
  if (opts && opts.all) return cb(null, [{ address: "127.0.0.1", family: 4 }]);
  return cb(null, "127.0.0.1", 4);
};

let step = "start";
setTimeout(() => { console.error("FAIL: timeout (20 s) while:", step); process.exit(3); }, 20000).unref();
function fail(msg) { console.error("FAIL:", msg); process.exit(1); }
if (typeof WebSocket !== "function") fail("this node has no WebSocket (run it with --experimental-websocket)");

const service = `wss://${domain}:${port}/xmpp-websocket`;
const userAgent = xml("user-agent", { id: "5b0c6a7e-2f1d-4c3b-9e8a-7d6c5b4a3f21" }, xml("software", {}, "xmpp.js"), xml("device", {}, "browser"));
let saved = null;
const x = client({ service, domain, username: user, password: pass, resource: "xmppjs", userAgent });
x.reconnect.stop();
x.fast.saveToken = async (t) => { saved = t; };
x.fast.fetchToken = async () => null;
let mechanism = null;
x.on("send", (el) => { if (el.is("authenticate") || el.is("auth")) mechanism = el.attrs.mechanism; });
x.on("error", (err) => { console.error("error:", err.condition || err.message); });
const answered = new Promise((resolve) => {
  x.on("stanza", (st) => {
    if (st.is("message") && st.attrs.from === peer && st.getChildText("body")) resolve(st.getChildText("body"));
  });
});

step = "login";
const address = await x.start();
console.log("logged in as", address.toString(), "with", mechanism, "over", x.socket.url);
if (address.toString() !== `${user}@${domain}/xmppjs` && !address.toString().startsWith(`${user}@${domain}/`)) fail("bound to " + address);
step = "send";
await x.send(xml("message", { to: peer, type: "chat", id: "js1" }, xml("body", {}, "hello from xmpp.js")));
step = "wait for the answer";
const body = await answered;
console.log("received:", body);
if (body !== "hello back over TCP") fail("answer " + JSON.stringify(body));
console.log("stream management:", x.streamManagement.enabled ? "on" : "off", "id", x.streamManagement.id ? "given" : "none");
step = "stop";
await x.stop();
if (!saved) fail("no FAST token over WebSocket");

step = "token login";
const y = client({ service, domain, username: user, password: "not-the-password", resource: "xmppjs", userAgent });
y.reconnect.stop();
y.fast.fetchToken = async () => saved;
y.fast.saveToken = async () => {};
let tokenMechanism = null;
y.on("send", (el) => { if (el.is("authenticate")) tokenMechanism = el.attrs.mechanism; });
y.on("error", () => {});
const again = await y.start();
console.log("token login as", again.toString(), "with", tokenMechanism);
if (again.toString() !== address.toString() || !/^HT-SHA-256-/.test(tokenMechanism)) fail("token login");
await y.stop();
console.log("PASS");
