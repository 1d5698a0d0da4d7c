#!/usr/bin/python3
"""Log in with slixmpp and wait for one message.

  /usr/bin/python3 slix_recv.py [--ca FILE | --insecure] [--direct-tls] [--timeout 20] \\
      [--from JID] [--body TEXT] [--ready-file FILE] HOST PORT DOMAIN JID PASSWORD

Logs in (STARTTLS by default), sends initial presence, prints "READY" and
creates --ready-file (if given) once it can receive, then waits for a message
with a body; with --from it must come from that bare JID, with --body the body
must be exactly TEXT (surrounding whitespace ignored). Messages that do not
match are reported and skipped. Exit 0 and "PASS" when one matches, 1 with
"FAIL: ..." on stderr on a failed check, 3 on the hard timeout.
"""

import sys

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree

import interop_common as ic  # noqa: E402

DELAY = "{urn:xmpp:delay}delay"


async def main(args):
    jid = ic.full_jid(args.jid, args.domain)
    want_from = ic.full_jid(args.sender, args.domain) if args.sender else None
    c = ic.Client("receiver", jid, args.password, args)

    def match(m):
        if not m["body"]:
            return False
        good = (want_from is None or m["from"].bare == want_from) and \
               (args.body is None or m["body"].strip() == args.body.strip())
        if not good:
            ic.log(f"skip message from {m['from']}: {m['body']!r}")
        return good
    got = c.waiter("message", match)

    await ic.login(c, [c])
    if args.ready_file:
        with open(args.ready_file, "w") as f:
            f.write("ready\n")
    ic.log("READY")
    m = await ic.wait("waiting for the message", got, [c], timeout=args.timeout)
    delay = m.xml.find(DELAY)
    how = "live" if delay is None else f"delayed, stamp {delay.get('stamp')}"
    ic.ok(f"got {m['body']!r} from {m['from']} (type {m['type']}, {how})")
    await ic.logout(c)


if __name__ == "__main__":
    p = ic.parser(__doc__)
    ic.add_common_args(p)
    p.add_argument("jid", help="JID (or localpart) to log in as")
    p.add_argument("password")
    p.add_argument("--from", dest="sender", metavar="JID", help="expected sender (bare JID or localpart)")
    p.add_argument("--body", help="expected body")
    p.add_argument("--ready-file", metavar="FILE", help="file to create once logged in and available")
    ic.run(main, p.parse_args())
