// xmpp.js logs in as modern clients do: SASL2 with Bind 2, asking for a
// FAST token; then again with the token and a wrong password (the token
// must be what logs it in, to the same resource); then a device with
// another user-agent id tries the token (stolen) and must be refused.
// Usage: node fast.mjs HOST PORT DOMAIN USER PASSWORD (the CA to trust in
// NODE_EXTRA_CA_CERTS).
import { client, xml } from "@xmpp/client";

const [host, port, domain, user, pass] = process.argv.slice(2);
if (!pass) {
  console.error("usage: node fast.mjs HOST PORT DOMAIN USER PASSWORD");
  process.exit(2);
}
let step = "start";
setTimeout(() => { console.error("FAIL: timeout (20 s) while:", step); process.exit(3); }, 20000).unref();
const agent = (id) => xml("user-agent", { id }, xml("software", {}, "xmpp.js"), xml("device", {}, "interop"));
const phone = "1c9f3a52-7d2e-4b8a-9f10-3e5d7a2b4c61";
const thief = "9a7e51c0-3b2d-4e6f-8a1c-5d4b3c2a1f07";
let saved = null;

async function login(password, token, id) {
  const x = client({ service: `xmpp://${host}:${port}`, domain, username: user, password, resource: "xmppjs", userAgent: agent(id) });
  x.reconnect.stop();
  x.fast.saveToken = async (t) => { saved = t; };
  x.fast.fetchToken = async () => token;
  let mechanism = null;
  x.on("send", (el) => { if (el.is("authenticate")) mechanism = el.attrs.mechanism; });
  x.on("error", () => {});
  try {
    const address = await x.start();
    await x.stop();
    return { jid: address.toString(), mechanism };
  } catch (err) {
    await x.stop().catch(() => {});
    return { error: err.condition || err.message, mechanism };
  }
}

function fail(msg) { console.error("FAIL:", msg); process.exit(1); }

step = "password login";
const first = await login(pass, null, phone);
console.log("password login:", JSON.stringify(first));
if (!first.jid || !/^SCRAM-/.test(first.mechanism)) fail("password login");
if (!saved || saved.mechanism !== "HT-SHA-256-NONE") fail("no FAST token");
const token = saved;
console.log("token for", token.mechanism, "until", token.expiry);

step = "token login";
const second = await login("not-the-password", token, phone);
console.log("token login:", JSON.stringify(second));
if (second.jid !== first.jid || second.mechanism !== "HT-SHA-256-NONE") fail("token login");

step = "stolen token";
const third = await login("not-the-password", token, thief);
console.log("stolen token:", JSON.stringify(third));
if (third.jid) fail("a token from another device logged in");
console.log("PASS");
