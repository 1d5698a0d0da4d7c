#!/usr/bin/python3
"""Two slixmpp clients, A and B, against a real server.

  /usr/bin/python3 slix_pair.py [--ca FILE | --insecure] [--direct-tls] [--timeout 20] \\
      HOST PORT DOMAIN JID_A PASS_A JID_B PASS_B

Steps, one line each: A and B log in (STARTTLS by default); any roster entry
left between them from an earlier run is removed; A and B subscribe to each
other and each approves; each sees the other's available presence and both
rosters say subscription "both"; one message each way, bodies checked; B
disconnects and A sees B go unavailable; A sends a message to B's bare JID;
B logs in again and must get it with a XEP-0203 <delay/> stamp.

Exit 0 and "PASS" on success, 1 with "FAIL: ..." on stderr on a failed check,
3 on the hard timeout.
"""

import sys

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree

import asyncio  # noqa: E402
import datetime
import uuid

import interop_common as ic  # noqa: E402
from slixmpp.exceptions import IqError

DELAY = "{urn:xmpp:delay}delay"


def bare(stanza_from):
    return stanza_from.bare


async def remove_leftovers(me, other_jid, clients):
    if other_jid not in me.client_roster.keys():
        return
    # RFC 6121 2.5: removing the item also cancels the subscriptions both ways.
    removed = asyncio.ensure_future(me.del_roster_item(other_jid))
    try:
        await ic.wait(f"{me.name} removes {other_jid} left in its roster by an earlier run", removed, clients)
    except IqError as exc:
        # Already gone on the server (the other side's removal took it along).
        if exc.iq["error"]["condition"] != "item-not-found":
            raise ic.Failure(f"{me.name} roster remove {other_jid}: {exc.iq['error']['condition']}")
        me.client_roster[other_jid].save(remove=True)
    await ic.until(f"{me.name}'s roster no longer has {other_jid}",
                   lambda: other_jid not in me.client_roster.keys(), clients)
    ic.ok(f"{me.name} removed {other_jid} left in its roster by an earlier run")


async def main(args):
    jid_a = ic.full_jid(args.jid_a, args.domain)
    jid_b = ic.full_jid(args.jid_b, args.domain)
    nonce = uuid.uuid4().hex[:8]
    a = ic.Client("A", jid_a, args.pass_a, args)
    b = ic.Client("B", jid_b, args.pass_b, args)
    clients = [a, b]

    await ic.login(a, clients)
    await ic.login(b, clients)

    # Start from no relationship so the subscription dance really happens.
    await remove_leftovers(a, jid_b, clients)
    await remove_leftovers(b, jid_a, clients)

    # RFC 6121 3: A subscribes to B, B approves and subscribes back, A approves.
    b_gets_sub = b.waiter("presence_subscribe", lambda p: bare(p["from"]) == jid_a)
    a_gets_subscribed = a.waiter("presence_subscribed", lambda p: bare(p["from"]) == jid_b)
    a_sees_b = a.waiter("presence_available", lambda p: bare(p["from"]) == jid_b)
    b_sees_a = b.waiter("presence_available", lambda p: bare(p["from"]) == jid_a)
    a_gets_sub = a.waiter("presence_subscribe", lambda p: bare(p["from"]) == jid_b)
    b_gets_subscribed = b.waiter("presence_subscribed", lambda p: bare(p["from"]) == jid_a)

    a.send_presence(pto=jid_b, ptype="subscribe")
    await ic.wait("B receives A's subscription request", b_gets_sub, clients)
    ic.ok("B got <presence type='subscribe'/> from A")
    b.send_presence(pto=jid_a, ptype="subscribed")
    await ic.wait("A receives B's approval", a_gets_subscribed, clients)
    ic.ok("A got <presence type='subscribed'/> from B")
    b.send_presence(pto=jid_a, ptype="subscribe")
    await ic.wait("A receives B's subscription request", a_gets_sub, clients)
    ic.ok("A got <presence type='subscribe'/> from B")
    a.send_presence(pto=jid_b, ptype="subscribed")
    await ic.wait("B receives A's approval", b_gets_subscribed, clients)
    ic.ok("B got <presence type='subscribed'/> from A")

    p = await ic.wait("A sees B available", a_sees_b, clients)
    ic.ok(f"A sees B available ({p['from']})")
    p = await ic.wait("B sees A available", b_sees_a, clients)
    ic.ok(f"B sees A available ({p['from']})")

    def sub(me, other):
        return other in me.client_roster.keys() and me.client_roster[other]["subscription"]
    await ic.until("both rosters say subscription='both'",
                   lambda: sub(a, jid_b) == "both" and sub(b, jid_a) == "both", clients)
    ic.ok("A's and B's rosters say subscription='both'")

    # A message each way, to the bare JID, body checked.
    for sender, receiver, to in ((a, b, jid_b), (b, a, jid_a)):
        body = f"hello {receiver.name} from {sender.name} {nonce}"
        got = receiver.waiter("message", lambda m, body=body: m["body"] == body)
        sender.send_message(mto=to, mbody=body, mtype="chat")
        m = await ic.wait(f"{receiver.name} receives {sender.name}'s message", got, clients)
        if bare(m["from"]) != sender.boundjid.bare:
            raise ic.Failure(f"message from {m['from']}, want {sender.boundjid.bare}")
        ic.ok(f"{receiver.name} got {body!r} from {m['from']}")

    # Offline delivery: B leaves, A writes, B comes back.
    b_gone = a.waiter("presence_unavailable", lambda p: bare(p["from"]) == jid_b)
    await ic.logout(b)
    await ic.wait("A sees B go unavailable", b_gone, [a])
    ic.ok("B disconnected; A got B's unavailable presence")

    body = f"while you were away {nonce}"
    a.send_message(mto=jid_b, mbody=body, mtype="chat")
    ic.ok(f"A sent {body!r} to {jid_b} while B is offline")
    # Let the server store it before B asks for it (an IQ round trip orders it behind the message).
    await ic.wait("A pings the server", asyncio.ensure_future(a.plugin["xep_0199"].ping(jid=args.domain, timeout=5)),
                  [a])

    b2 = ic.Client("B", jid_b, args.pass_b, args)
    got = b2.waiter("message", lambda m: m["body"] == body)
    b2.start()
    m = await ic.wait("B logs in again and receives the offline message", got, [a, b2])
    delay = m.xml.find(DELAY)
    if delay is None:
        raise ic.Failure(f"offline message has no XEP-0203 <delay xmlns='urn:xmpp:delay'/>: {m}")
    stamp = delay.get("stamp", "")
    try:
        when = datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        raise ic.Failure(f"offline message <delay stamp={stamp!r}/> is not an XEP-0082 date-time")
    ic.ok(f"B got {body!r} from {m['from']} with <delay stamp='{stamp}' from='{delay.get('from', '')}'/>")
    if when.tzinfo is None:
        raise ic.Failure(f"delay stamp {stamp!r} has no time zone (XEP-0082 requires UTC)")

    await ic.logout(b2)
    await ic.logout(a)


if __name__ == "__main__":
    p = ic.parser(__doc__)
    ic.add_common_args(p)
    p.add_argument("jid_a", help="JID (or localpart) of client A")
    p.add_argument("pass_a")
    p.add_argument("jid_b", help="JID (or localpart) of client B")
    p.add_argument("pass_b")
    ic.run(main, p.parse_args())
