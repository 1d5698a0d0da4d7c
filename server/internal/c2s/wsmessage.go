package c2s

import (
	"bytes"
	"errors"

	"hearth/server/internal/stanza"
	"hearth/server/internal/stream"
)

// What RFC 7395's messages hold: one element each, read with a stream's
// limits, written declaring its namespace.

// errEndOfMessage: the decoder wanted more than the message held.
var errEndOfMessage = errors.New("end of the WebSocket message")

// msgDecoder reads the element of each message, with a stream's limits.
type msgDecoder struct {
	dec *stream.Decoder
	src msgSource
}

func newMsgDecoder(lim stream.Limits) *msgDecoder {
	m := &msgDecoder{}
	// Each message is decoded as an element of a stream in jabber:client
	// whose header the client never sends: RFC 7395 3.3.3 has each
	// element declare its namespace.
	m.src.b = []byte(`<stream:stream xmlns="jabber:client" xmlns:stream="` + stanza.NSStream + `">`)
	m.dec = stream.NewDecoder(&m.src, lim)
	if _, err := m.dec.Header(); err != nil {
		panic("c2s: the WebSocket framing's own header does not parse: " + err.Error())
	}
	return m
}

// decode reads the one element msg holds; after an error the decoder is
// not used again (the stream ends).
func (m *msgDecoder) decode(msg []byte) (*stanza.Element, error) {
	m.src.b = msg
	el, err := m.dec.Next()
	if err == nil && (!stream.IsSpace(m.dec.Unread()) || !stream.IsSpace(m.src.b)) {
		err = &stream.Error{Condition: stream.NotWellFormed, Text: "one WebSocket message holds one element (RFC 7395 3.3.3)"}
	}
	if errors.Is(err, errEndOfMessage) {
		err = &stream.Error{Condition: stream.NotWellFormed, Text: "a WebSocket message holds one whole element (RFC 7395 3.3.3)"}
	}
	if errors.Is(err, stream.ErrClosed) {
		err = &stream.Error{Condition: stream.NotWellFormed, Text: "end the stream with <close/> (RFC 7395 3.6)"}
	}
	return el, err
}

// msgSource gives the decoder one message at a time.
type msgSource struct {
	b []byte
}

func (m *msgSource) Read(p []byte) (int, error) {
	if len(m.b) == 0 {
		return 0, errEndOfMessage
	}
	n := copy(p, m.b)
	m.b = m.b[n:]
	return n, nil
}

// encodeRoot writes el as a message of its own: it declares its
// namespace; the stream's elements take the stream: prefix, as RFC 7395's
// examples and the clients that match on names expect.
func encodeRoot(b *bytes.Buffer, el *stanza.Element) {
	if el.NS != stanza.NSStream {
		el.WriteTo(b, "")
		return
	}
	b.WriteString("<stream:" + el.Name + ` xmlns:stream="` + stanza.NSStream + `">`)
	for _, c := range el.Children {
		c.WriteTo(b, "")
	}
	b.WriteString("</stream:" + el.Name + ">")
}
