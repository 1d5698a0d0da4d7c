package server_test

import (
	"testing"

	"hearth/server/xmpptest"
)

// TestJingleCrosses: call set-up between two devices of local accounts
// that are not each other's contacts crosses the server unchanged, only
// stamped with the sender's full JID: XEP-0353's propose, ringing and
// proceed messages, XEP-0166 session-initiate (XEP-0167 RTP audio and
// video, XEP-0176 ICE-UDP candidates, XEP-0320 DTLS fingerprint),
// session-info, session-accept and session-terminate, and their results.
func TestJingleCrosses(t *testing.T) {
	srv := xmpptest.Start(t, withTURN)
	for _, u := range []string{"alice", "bob"} {
		srv.AddUser(t, u, secret(u))
	}
	c := map[string]*xmpptest.Client{
		"alice": online(t, srv, "alice", "phone", 0),
		"bob":   online(t, srv, "bob", "pc", 0),
	}
	const (
		content = `<content creator='initiator' name='0' senders='both'>` +
			`<description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'>` +
			`<payload-type id='111' name='opus' clockrate='48000' channels='2'><parameter name='useinbandfec' value='1'/>` +
			`<rtcp-fb xmlns='urn:xmpp:jingle:apps:rtp:rtcp-fb:0' type='transport-cc'/></payload-type>` +
			`<payload-type id='0' name='PCMU' clockrate='8000'/>` +
			`<rtp-hdrext xmlns='urn:xmpp:jingle:apps:rtp:rtp-hdrext:0' id='1' uri='urn:ietf:params:rtp-hdrext:ssrc-audio-level'/>` +
			`<source xmlns='urn:xmpp:jingle:apps:rtp:ssma:0' ssrc='3614315232'><parameter name='cname' value='mE4uvQk1'/></source>` +
			`<rtcp-mux/></description>` +
			`<transport xmlns='urn:xmpp:jingle:transports:ice-udp:1' ufrag='Wq8G' pwd='a1y+ZOhhwKdPxSfTfRPdd8Ua'>` +
			`<fingerprint xmlns='urn:xmpp:jingle:apps:dtls:0' hash='sha-256' setup='actpass'>2C:F1:8A:9D:1A:07:58:92:2F:3B:3A:0E:55:63:9C:43:63:BD:CB:58:62:FD:D0:B8:DA:06:DB:AD:3A:0A:23:1E</fingerprint>` +
			`<candidate component='1' foundation='1' generation='0' id='el0747fg11' ip='10.0.1.1' network='1' port='8998' priority='2130706431' protocol='udp' type='host'/>` +
			`<candidate component='1' foundation='2' generation='0' id='y3s2b30v3r' ip='127.0.0.1' network='0' port='41001' priority='16777215' protocol='udp' rel-addr='10.0.1.1' rel-port='8998' type='relay'/>` +
			`</transport></content>` +
			`<group xmlns='urn:xmpp:jingle:apps:grouping:0' semantics='BUNDLE'><content name='0'/></group>`
	)
	xmpptest.Play(t, c, `
alice sends: <message to='bob@hearth.test/pc' id='jm1'><propose xmlns='urn:xmpp:jingle-message:0' id='a73sjjvkla37jfea'><description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'/><description xmlns='urn:xmpp:jingle:apps:rtp:1' media='video'/></propose><request xmlns='urn:xmpp:receipts'/><store xmlns='urn:xmpp:hints'/></message>
bob receives: <message from='alice@hearth.test/phone' to='bob@hearth.test/pc' id='jm1'><propose xmlns='urn:xmpp:jingle-message:0' id='a73sjjvkla37jfea'><description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'/><description xmlns='urn:xmpp:jingle:apps:rtp:1' media='video'/></propose><request xmlns='urn:xmpp:receipts'/><store xmlns='urn:xmpp:hints'/></message>
bob sends: <message to='alice@hearth.test/phone' id='jm2'><ringing xmlns='urn:xmpp:jingle-message:0' id='a73sjjvkla37jfea'/></message>
alice receives: <message from='bob@hearth.test/pc' to='alice@hearth.test/phone' id='jm2'><ringing xmlns='urn:xmpp:jingle-message:0' id='a73sjjvkla37jfea'/></message>
bob sends: <message to='alice@hearth.test/phone' id='jm3'><proceed xmlns='urn:xmpp:jingle-message:0' id='a73sjjvkla37jfea'/><store xmlns='urn:xmpp:hints'/></message>
alice receives: <message from='bob@hearth.test/pc' to='alice@hearth.test/phone' id='jm3'><proceed xmlns='urn:xmpp:jingle-message:0' id='a73sjjvkla37jfea'/><store xmlns='urn:xmpp:hints'/></message>
alice sends: <iq to='bob@hearth.test/pc' id='j1' type='set'><jingle xmlns='urn:xmpp:jingle:1' action='session-initiate' initiator='alice@hearth.test/phone' sid='a73sjjvkla37jfea'>`+content+`</jingle></iq>
bob receives: <iq from='alice@hearth.test/phone' to='bob@hearth.test/pc' id='j1' type='set'><jingle xmlns='urn:xmpp:jingle:1' action='session-initiate' initiator='alice@hearth.test/phone' sid='a73sjjvkla37jfea'>`+content+`</jingle></iq>
bob sends: <iq to='alice@hearth.test/phone' id='j1' type='result'/>
alice receives: <iq from='bob@hearth.test/pc' to='alice@hearth.test/phone' id='j1' type='result'/>
bob sends: <iq to='alice@hearth.test/phone' id='j2' type='set'><jingle xmlns='urn:xmpp:jingle:1' action='session-info' sid='a73sjjvkla37jfea'><ringing xmlns='urn:xmpp:jingle:apps:rtp:info:1'/></jingle></iq>
alice receives: <iq from='bob@hearth.test/pc' to='alice@hearth.test/phone' id='j2' type='set'><jingle xmlns='urn:xmpp:jingle:1' action='session-info' sid='a73sjjvkla37jfea'><ringing xmlns='urn:xmpp:jingle:apps:rtp:info:1'/></jingle></iq>
alice sends: <iq to='bob@hearth.test/pc' id='j2' type='result'/>
bob receives: <iq from='alice@hearth.test/phone' to='bob@hearth.test/pc' id='j2' type='result'/>
bob sends: <iq to='alice@hearth.test/phone' id='j3' type='set'><jingle xmlns='urn:xmpp:jingle:1' action='session-accept' responder='bob@hearth.test/pc' sid='a73sjjvkla37jfea'>`+content+`</jingle></iq>
alice receives: <iq from='bob@hearth.test/pc' to='alice@hearth.test/phone' id='j3' type='set'><jingle xmlns='urn:xmpp:jingle:1' action='session-accept' responder='bob@hearth.test/pc' sid='a73sjjvkla37jfea'>`+content+`</jingle></iq>
alice sends: <iq to='bob@hearth.test/pc' id='j3' type='result'/>
bob receives: <iq from='alice@hearth.test/phone' to='bob@hearth.test/pc' id='j3' type='result'/>
alice sends: <iq to='bob@hearth.test/pc' id='j4' type='set'><jingle xmlns='urn:xmpp:jingle:1' action='session-terminate' sid='a73sjjvkla37jfea'><reason><success/><text>Bye</text></reason></jingle></iq>
bob receives: <iq from='alice@hearth.test/phone' to='bob@hearth.test/pc' id='j4' type='set'><jingle xmlns='urn:xmpp:jingle:1' action='session-terminate' sid='a73sjjvkla37jfea'><reason><success/><text>Bye</text></reason></jingle></iq>
bob sends: <iq to='alice@hearth.test/phone' id='j4' type='result'/>
alice receives: <iq from='bob@hearth.test/pc' to='alice@hearth.test/phone' id='j4' type='result'/>
bob sends: <message to='alice@hearth.test/phone' id='jm4'><finish xmlns='urn:xmpp:jingle-message:0' id='a73sjjvkla37jfea'><reason xmlns='urn:xmpp:jingle:1'><success/></reason></finish><store xmlns='urn:xmpp:hints'/></message>
alice receives: <message from='bob@hearth.test/pc' to='alice@hearth.test/phone' id='jm4'><finish xmlns='urn:xmpp:jingle-message:0' id='a73sjjvkla37jfea'><reason xmlns='urn:xmpp:jingle:1'><success/></reason></finish><store xmlns='urn:xmpp:hints'/></message>
alice receives nothing more
bob receives nothing more`)
}
