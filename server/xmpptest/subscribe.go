package xmpptest

import (
	"strings"
	"time"
)

// Online fetches the roster and sends initial presence, as clients do
// (Prosody tells only the resources that asked for the roster about
// approvals).
func (c *Client) Online(wait time.Duration) {
	c.t.Helper()
	c.Send(`<iq type='get' id='roster'><query xmlns='jabber:iq:roster'/></iq>`)
	c.ExpectLike(`<iq type='result' id='roster'/>`, wait)
	c.Send(`<presence/>`)
}

// SubscribeBoth makes the online clients a and b, whose full JIDs are
// aFull and bFull, contacts of each other as two people do (RFC 6121 3:
// a asks, b approves and asks back, a approves), on any servers, and
// checks that each then sees the other's presence.
func SubscribeBoth(a *Client, aFull string, b *Client, bFull string, wait time.Duration) {
	a.t.Helper()
	aBare, _, _ := strings.Cut(aFull, "/")
	bBare, _, _ := strings.Cut(bFull, "/")
	a.Send(`<presence to='` + bBare + `' type='subscribe'/>`)
	b.ExpectLike(`<presence from='`+aBare+`' type='subscribe'/>`, wait)
	b.Send(`<presence to='` + aBare + `' type='subscribed'/>`)
	b.Send(`<presence to='` + aBare + `' type='subscribe'/>`)
	a.ExpectLike(`<presence from='`+bBare+`' type='subscribed'/>`, wait)
	a.ExpectLike(`<presence from='`+bFull+`'/>`, wait)
	a.ExpectLike(`<presence from='`+bBare+`' type='subscribe'/>`, wait)
	a.Send(`<presence to='` + bBare + `' type='subscribed'/>`)
	b.ExpectLike(`<presence from='`+aBare+`' type='subscribed'/>`, wait)
	b.ExpectLike(`<presence from='`+aFull+`'/>`, wait)
}
