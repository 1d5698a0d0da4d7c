#!/usr/bin/python3
"""Registration with an invitation (XEP-0445) by slixmpp, against a real server.

  /usr/bin/python3 slix_invite.py [--ca FILE | --insecure] [--timeout 40] \\
      HOST PORT DOMAIN TOKEN EXPIRED_TOKEN NEW_USER NEW_PASS INVITER

slixmpp's XEP-0077 plugin registers before login when the server offers
the iq-register stream feature; the token goes in a <preauth
xmlns='urn:xmpp:pars:0' token='...'/> IQ first (XEP-0445 3), built with
slixmpp's stanza API. Steps, one line each:

  1. a registration without a token is refused with <not-allowed/>;
  2. an expired token is refused with <item-not-found/>;
  3. NEW_USER registers with TOKEN, logs in with the new password, and its
     roster has INVITER with subscription "both" (an account+contact
     invitation);
  4. TOKEN, now used up, is refused with <item-not-found/>.

Exit 0 and "PASS" on success, 1 with "FAIL: ..." on stderr on a failed check,
3 on the hard timeout.
"""

import sys

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree

import argparse  # noqa: E402
import asyncio  # noqa: E402

import interop_common as ic  # noqa: E402
from slixmpp import Iq  # noqa: E402
from slixmpp.exceptions import IqError  # noqa: E402
from slixmpp.xmlstream import ElementBase, register_stanza_plugin  # noqa: E402


class PreAuth(ElementBase):
    """<preauth xmlns='urn:xmpp:pars:0' token='...'/> (XEP-0379, XEP-0445)."""
    name = "preauth"
    namespace = "urn:xmpp:pars:0"
    plugin_attrib = "preauth"
    interfaces = {"token"}


register_stanza_plugin(Iq, PreAuth)


class Registrant(ic.Client):
    """A client that registers when the server offers it, then logs in.

    token: sent in <preauth/> first (None: no token). outcome: a future
    with None when the registration succeeded, else the error condition
    of the IQ that was refused (preauth or register).
    """

    def __init__(self, name, jid, password, args, token):
        super().__init__(name, jid, password, args)
        self.token = token
        self.outcome = asyncio.get_event_loop().create_future()
        self.register_plugin("xep_0004")
        self.register_plugin("xep_0066")
        self.register_plugin("xep_0077")
        self.add_event_handler("register", self._register)
        # slixmpp 1.8.3 holds back every IQ sent before the session starts
        # but bind and session (XMLStream.send), XEP-0077's own form
        # request included, so that registration before login never
        # leaves: let this client's stanzas through from the start (it
        # sends nothing else before logging in).
        self._always_send_everything = True

    async def _register(self, form):
        try:
            if self.token is not None:
                iq = self.Iq()
                iq["type"] = "set"
                iq["to"] = self.boundjid.domain
                iq["preauth"]["token"] = self.token
                await iq.send(timeout=10)
            iq = self.Iq()
            iq["type"] = "set"
            iq["register"]["username"] = self.boundjid.user
            iq["register"]["password"] = self.password
            await iq.send(timeout=10)
        except IqError as exc:
            if not self.outcome.done():
                self.outcome.set_result(exc.iq["error"]["condition"])
            self.abort()
            return
        if not self.outcome.done():
            self.outcome.set_result(None)


async def refused(name, jid, args, token, want):
    c = Registrant(name, jid, "silver-kettle-pw", args, token)
    c.start()
    got = await ic.wait(f"{name} tries to register {jid}", c.outcome, [])
    if got != want:
        raise ic.Failure(f"{name}: registration answered {got or 'success'}, want {want}")
    ic.ok(f"{name}: registering {jid} refused with <{want}/>")


async def main(args):
    new_jid = ic.full_jid(args.new_user, args.domain)
    inviter = ic.full_jid(args.inviter, args.domain)

    await refused("no-token", ic.full_jid("mallory", args.domain), args, None, "not-allowed")
    await refused("expired", ic.full_jid("trudy", args.domain), args, args.expired_token, "item-not-found")

    c = Registrant("new", new_jid, args.new_pass, args, args.token)
    await ic.login(c, [c])
    if c.outcome.result() is not None:
        raise ic.Failure(f"registration refused: {c.outcome.result()}")
    ic.ok(f"{new_jid} registered with the invitation and logged in")
    await ic.until(f"{new_jid}'s roster has {inviter} with subscription both",
                   lambda: inviter in c.client_roster.keys() and c.client_roster[inviter]["subscription"] == "both", [c])
    ic.ok(f"{new_jid} and {inviter} are mutual contacts")
    await ic.logout(c)

    await refused("used", ic.full_jid("victor", args.domain), args, args.token, "item-not-found")
    print("PASS", flush=True)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ic.add_common_args(p)
    p.add_argument("token")
    p.add_argument("expired_token")
    p.add_argument("new_user")
    p.add_argument("new_pass")
    p.add_argument("inviter")
    a = p.parse_args()
    ic.run(main, a)
