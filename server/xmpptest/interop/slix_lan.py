#!/usr/bin/python3
"""A Hearth user who chats with a person on the LAN (XEP-0174 bridge).

  /usr/bin/python3 slix_lan.py [--ca FILE | --insecure] [--timeout 30] \\
      HOST PORT DOMAIN JID PASSWORD PEER

Logs in and sends initial presence; waits for the available presence of
PEER (a JID on lan.DOMAIN) and prints "PEER <jid> available"; waits for a
message from PEER, prints "GOT <body>" and replies "hello bob"; sends a
message to nobody%nowhere@lan.DOMAIN and prints the condition of its
bounce ("BOUNCE <condition>"); with --ghost, sends a message to that peer
once it is seen and prints its bounce's condition ("GHOST BOUNCE <condition>").
Then, on
each SIGUSR1, it takes the next step: first its presence becomes away with
the status "out for lunch" ("AWAY"), then it logs out ("LOGGED OUT"), then
it logs in again ("BACK") and waits for the server to end the stream
("SERVER GONE"), and exits 0. Exit 1 with "FAIL: ..." on stderr on a failed check, 3 on the
hard timeout.
"""

import asyncio
import signal
import sys

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree

import interop_common as ic  # noqa: E402


async def main(args):
    jid = ic.full_jid(args.jid, args.domain)
    c = ic.Client("user", jid, args.password, args)
    c.register_plugin("xep_0172")  # nicknames in presence
    peer = args.peer

    seen = c.waiter("presence_available", lambda p: p["from"].bare == peer)
    ghost_seen = c.waiter("presence_available", lambda p: p["from"].bare == args.ghost)
    got = c.waiter("message", lambda m: m["from"].bare == peer and bool(m["body"]))
    nudge = asyncio.Queue()
    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, nudge.put_nowait, True)

    await ic.login(c, [c])
    ic.log("READY")
    p = await ic.wait(f"presence of {peer}", seen, [c], timeout=args.timeout)
    ic.log(f"PEER {p['from'].bare} available show={p['show'] or 'none'} nick={p['nick']['nick'] or ''}")
    m = await ic.wait(f"a message from {peer}", got, [c], timeout=args.timeout)
    ic.log(f"GOT {m['body']}")
    c.send_message(mto=m["from"].bare, mbody="hello bob", mtype="chat")
    ic.log("REPLIED")

    nobody = "nobody%nowhere@lan." + args.domain
    bounce = c.waiter("message_error", lambda m: m["from"].bare == nobody)
    c.send_message(mto=nobody, mbody="anyone there?", mtype="chat")
    m = await ic.wait("the bounce of a message to no one on the LAN", bounce, [c], timeout=10)
    ic.log(f"BOUNCE {m['error']['condition']}")

    if args.ghost:
        await ic.wait(f"presence of {args.ghost}", ghost_seen, [c], timeout=args.timeout)
        bounce = c.waiter("message_error", lambda m: m["from"].bare == args.ghost)
        c.send_message(mto=args.ghost, mbody="are you there?", mtype="chat")
        m = await ic.wait(f"the bounce of a message to {args.ghost}", bounce, [c], timeout=20)
        ic.log(f"GHOST BOUNCE {m['error']['condition']}")

    await ic.wait("the signal to go away", asyncio.ensure_future(nudge.get()), [c], timeout=args.timeout)
    c.send_presence(pshow="away", pstatus="out for lunch")
    ic.log("AWAY")
    await ic.wait("the signal to log out", asyncio.ensure_future(nudge.get()), [c], timeout=args.timeout)
    await ic.logout(c)
    ic.log("LOGGED OUT")

    await ic.wait("the signal to log in again", asyncio.ensure_future(nudge.get()), [], timeout=args.timeout)
    again = ic.Client("user again", jid, args.password, args)
    gone = again.waiter("disconnected")
    await ic.login(again, [again])
    ic.log("BACK")
    await ic.wait("the server's end", gone, [], timeout=args.timeout)
    ic.log("SERVER GONE")


if __name__ == "__main__":
    p = ic.parser(__doc__)
    ic.add_common_args(p)
    p.add_argument("jid", help="JID (or localpart) to log in as")
    p.add_argument("password")
    p.add_argument("peer", help="the LAN peer's JID on the bridge, e.g. bob%%familydevice@lan.family.local")
    p.add_argument("--ghost", metavar="JID",
                   help="a peer announced where nothing listens: once it is seen, a message to it must bounce")
    ic.run(main, p.parse_args())
