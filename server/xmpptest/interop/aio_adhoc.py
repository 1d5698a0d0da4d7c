#!/usr/bin/python3
"""aioxmpp's ad-hoc client (XEP-0050) against the server's commands.

  /usr/bin/python3 aio_adhoc.py [--ca FILE] [--timeout 30] HOST PORT DOMAIN USER PASSWORD

USER must be one of the server's administrators (admin.jids). With
aioxmpp.adhoc.AdHocClient (Debian's python3-aioxmpp) it logs in over
STARTTLS (the certificate checked against --ca), lists the server's
commands (XEP-0133's among them), reads one command's info, runs a
one-step command (the number of accounts online) and a two-step one (the
list of accounts online: the form, then the submitted form), and cancels a
third. Exit 0 and "PASS"; 1 with "FAIL: ..." on a failed check; 3 on the
timeout.
"""

import argparse
import asyncio
import os
import signal
import sys

sys.dont_write_bytecode = True

try:
    import aioxmpp
    import aioxmpp.adhoc
    import aioxmpp.forms
    import aioxmpp.security_layer
except ImportError as exc:  # pragma: no cover - depends on the machine
    print(f"FAIL: cannot import aioxmpp ({exc}); install python3-aioxmpp and run with /usr/bin/python3",
          file=sys.stderr, flush=True)
    sys.exit(4)

ADMIN = "http://jabber.org/protocol/admin#"
step = "starting"


class Failure(Exception):
    pass


def say(msg):
    global step
    step = msg
    print(f"... {msg}", flush=True)


def ok(msg):
    print(f"ok  {msg}", flush=True)


def field(form, var):
    for f in form.fields:
        if f.var == var:
            return f
    raise Failure(f"the form has no field {var!r}: {[f.var for f in form.fields]}")


async def main(a):
    def context_factory():
        ctx = aioxmpp.security_layer.default_ssl_context()
        if a.ca:
            ctx.load_verify_locations(a.ca)
        return ctx

    jid = aioxmpp.JID.fromstr(a.user if "@" in a.user else f"{a.user}@{a.domain}")
    server = aioxmpp.JID.fromstr(a.domain)
    client = aioxmpp.PresenceManagedClient(
        jid,
        aioxmpp.make_security_layer(a.password, ssl_context_factory=context_factory),
        override_peer=[(a.host, a.port, aioxmpp.connector.STARTTLSConnector())],
    )
    adhoc = client.summon(aioxmpp.adhoc.AdHocClient)
    say(f"log in as {jid}")
    async with client.connected():
        ok(f"logged in as {client.local_jid}")

        say("list the server's commands")
        cmds = await adhoc.get_commands(server)
        nodes = {c.node: c.name for c in cmds}
        for want in ("add-user", "delete-user", "get-online-users-num", "get-online-users-list", "announce"):
            if ADMIN + want not in nodes:
                raise Failure(f"{ADMIN + want} is not listed: {sorted(nodes)}")
        ok(f"{len(nodes)} commands listed")

        say("read a command's info")
        info = await adhoc.get_command_info(server, ADMIN + "get-online-users-num")
        if not any(i.category == "automation" and i.type_ == "command-node" for i in info.identities):
            raise Failure(f"no automation/command-node identity: {info.identities}")
        ok("the command's info has the identity automation/command-node")

        say("run the number of accounts online")
        s = await adhoc.execute(server, ADMIN + "get-online-users-num")
        if s.status != aioxmpp.adhoc.CommandStatus.COMPLETED:
            raise Failure(f"status {s.status}, want completed")
        n = field(s.first_payload, "onlineusersnum").values
        if list(n) != ["1"]:
            raise Failure(f"onlineusersnum {list(n)}, want ['1']")
        ok("1 account online")
        await s.close()

        say("run the list of accounts online, in two steps")
        s = await adhoc.execute(server, ADMIN + "get-online-users-list")
        if s.status != aioxmpp.adhoc.CommandStatus.EXECUTING:
            raise Failure(f"status {s.status}, want executing")
        form = s.first_payload
        field(form, "max_items").values[:] = ["none"]
        form.type_ = aioxmpp.forms.DataType.SUBMIT
        res = await s.proceed(action=aioxmpp.adhoc.ActionType.COMPLETE, payload=form)
        if s.status != aioxmpp.adhoc.CommandStatus.COMPLETED:
            raise Failure(f"status {s.status} after the submit, want completed")
        jids = list(field(res, "onlineuserjids").values)
        if jids != [str(jid)]:
            raise Failure(f"onlineuserjids {jids}, want [{jid}]")
        ok(f"accounts online: {jids}")
        await s.close()

        say("start a command and cancel it")
        s = await adhoc.execute(server, ADMIN + "add-user")
        if s.status != aioxmpp.adhoc.CommandStatus.EXECUTING:
            raise Failure(f"status {s.status}, want executing")
        await s.close()
        ok("canceled")


def run():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("domain")
    p.add_argument("user")
    p.add_argument("password")
    p.add_argument("--ca")
    p.add_argument("--timeout", type=float, default=30)
    a = p.parse_args()

    def on_alarm(signum, frame):
        print(f"FAIL: timed out after {a.timeout:g}s while: {step}", file=sys.stderr, flush=True)
        os._exit(3)
    signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, a.timeout)
    try:
        asyncio.run(main(a))
    except Failure as exc:
        print(f"FAIL: {exc}", file=sys.stderr, flush=True)
        os._exit(1)
    except Exception as exc:
        print(f"FAIL: unexpected {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        os._exit(1)
    print("PASS", flush=True)
    os._exit(0)


if __name__ == "__main__":
    run()
