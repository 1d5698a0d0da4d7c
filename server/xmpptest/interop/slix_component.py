#!/usr/bin/python3
"""An external component (XEP-0114) with slixmpp's ComponentXMPP.

  /usr/bin/python3 slix_component.py [--ca FILE] HOST PORT DOMAIN \\
      COMPONENT_PORT COMPONENT SECRET USER PASSWORD

1. A component that gives a wrong secret gets the stream error
   not-authorized and no session.
2. COMPONENT logs in with SECRET on COMPONENT_PORT; the account USER
   logs in on PORT, finds COMPONENT in the server's disco items, sends it
   a message; the component gets it and replies from its domain; the
   account gets the reply.
3. The component sends a message from another domain: the server closes
   its stream with <invalid-from/>.
Exit 0 and "PASS", 1 with "FAIL: ..." on a failed check, 3 on the timeout.
"""

import asyncio
import sys

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree

import slixmpp  # noqa: E402

import interop_common as ic  # noqa: E402


class Component(slixmpp.ComponentXMPP):
    def __init__(self, name, jid, secret, host, port):
        super().__init__(jid, secret, host, port)
        self.name = name
        loop = asyncio.get_event_loop()
        self.failed = loop.create_future()
        self.started = loop.create_future()
        self.stream_errors = asyncio.Queue()
        self.register_plugin("xep_0030")
        self.add_event_handler("session_start", lambda _: self.started.done() or self.started.set_result(True))
        self.add_event_handler("stream_error", lambda e: self.stream_errors.put_nowait(e["condition"]))
        self.add_event_handler("connection_failed", lambda e: self.failed.done() or self.failed.set_result(f"{name}: connection failed: {e}"))

    def waiter(self, event, pred=lambda _: True):
        fut = asyncio.get_event_loop().create_future()

        def handler(arg):
            if not fut.done() and pred(arg):
                fut.set_result(arg)
        self.add_event_handler(event, handler)
        return fut


async def main(args):
    comp_jid = args.component

    ic.step("a component with a wrong secret connects")
    bad = Component("impostor", comp_jid, args.secret + "-wrong", args.host, args.component_port)
    bad.connect()
    cond = await asyncio.wait_for(bad.stream_errors.get(), 10)
    if cond != "not-authorized":
        raise ic.Failure(f"a wrong secret got the stream error {cond!r}, want not-authorized")
    if bad.started.done():
        raise ic.Failure("a component with a wrong secret got a session")
    ic.ok("a wrong secret is refused with <not-authorized/>")
    bad.abort()

    bot = Component("bot", comp_jid, args.secret, args.host, args.component_port)
    got = bot.waiter("message", lambda m: m["body"] == "hello bot")
    bot.connect()
    await ic.wait(f"the component logs in as {comp_jid}", bot.started, [bot])
    ic.ok(f"component {comp_jid} connected")

    user_jid = ic.full_jid(args.user, args.domain)
    alice = ic.Client("alice", user_jid, args.password, args)
    await ic.login(alice, [alice, bot])

    ic.step("the server's disco items list the component")
    items = await alice["xep_0030"].get_items(jid=args.domain, timeout=10)
    jids = [i[0] for i in items["disco_items"]["items"]]
    if comp_jid not in jids:
        raise ic.Failure(f"the server's disco items {jids} do not list {comp_jid}")
    ic.ok(f"disco items list {comp_jid}")

    reply = alice.waiter("message", lambda m: m["body"] == "hello alice")
    alice.send_message(mto=comp_jid, mbody="hello bot", mtype="chat")
    m = await ic.wait("the component gets the user's message", got, [alice, bot])
    if m["from"].bare != user_jid:
        raise ic.Failure(f"the component's message came from {m['from']}, want {user_jid}/...")
    ic.ok(f"the component got the message from {m['from']}")
    bot.send_message(mto=m["from"], mbody="hello alice", mtype="chat", mfrom=comp_jid)
    r = await ic.wait("the user gets the component's reply", reply, [alice, bot])
    if r["from"].bare != comp_jid:
        raise ic.Failure(f"the reply came from {r['from']}, want {comp_jid}")
    ic.ok(f"the user got the reply from {r['from']}")

    ic.step("the component sends from another domain")
    bot.send_message(mto=user_jid, mbody="spoofed", mtype="chat", mfrom="mallory@elsewhere.example")
    cond = await asyncio.wait_for(bot.stream_errors.get(), 10)
    if cond != "invalid-from":
        raise ic.Failure(f"a stanza from another domain got the stream error {cond!r}, want invalid-from")
    ic.ok("a stanza from another domain closes the stream with <invalid-from/>")
    await ic.logout(alice)


if __name__ == "__main__":
    p = ic.parser(__doc__)
    ic.add_common_args(p)
    p.add_argument("component_port", type=int)
    p.add_argument("component")
    p.add_argument("secret")
    p.add_argument("user")
    p.add_argument("password")
    ic.run(main, p.parse_args())
