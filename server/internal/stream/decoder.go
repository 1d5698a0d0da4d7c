// Package stream implements XML stream framing (RFC 6120 4): the stream
// header, a restricted-XML decoder (RFC 6120 11) with byte and depth limits,
// stream errors and the header writer.
package stream

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"

	"hearth/server/internal/stanza"
)

// Limits bound what one peer may send; zero values take the Default
// constants.
type Limits struct {
	// MaxStanza is the largest top-level element in bytes.
	MaxStanza int
	// MaxDepth is the deepest nesting inside a stanza.
	MaxDepth int
	// MaxElements bounds the nodes in one stanza, elements and runs of
	// text alike: the parsed tree is many times its wire size, so the byte
	// limit alone does not bound memory.
	MaxElements int
	// MaxAttrs bounds the attributes of one element, namespace
	// declarations included (and of the stream header).
	MaxAttrs int
	// MaxScope bounds the namespace declarations in scope at once: every
	// name is resolved against them.
	MaxScope int
}

// Defaults for Limits.
const (
	DefaultMaxStanza   = 256 << 10
	DefaultMaxDepth    = 32
	DefaultMaxElements = 4096
	DefaultMaxAttrs    = 64
	DefaultMaxScope    = 128
)

// PreAuth are the limits of a stream until its peer has authenticated:
// enough for STARTTLS and SASL (the largest, a SASL2 <authenticate/> with
// its user-agent, Bind 2 request and inline features, is about 1 KiB and
// 30 nodes), small enough that thousands of connections that never
// authenticate cost little (RFC 6120 13.12).
var PreAuth = Limits{MaxStanza: 10 << 10, MaxDepth: 4, MaxElements: 48, MaxAttrs: 16, MaxScope: 16}

// WithDefaults returns l with the zero values set to the defaults.
func (l Limits) WithDefaults() Limits {
	if l.MaxStanza <= 0 {
		l.MaxStanza = DefaultMaxStanza
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.MaxElements <= 0 {
		l.MaxElements = DefaultMaxElements
	}
	if l.MaxAttrs <= 0 {
		l.MaxAttrs = DefaultMaxAttrs
	}
	if l.MaxScope <= 0 {
		l.MaxScope = DefaultMaxScope
	}
	return l
}

// Header is the opening <stream:stream> of a stream (RFC 6120 4.7).
type Header struct {
	To, From, ID, Version, Lang string
	NS                          string // content namespace: jabber:client or jabber:server
	Attrs                       []xml.Attr
}

// ErrClosed is returned by Next when the peer closed the stream with
// </stream:stream>.
var ErrClosed = errors.New("stream closed by peer")

var errTooBig = errors.New("stanza too big")

// IsSpace reports whether b holds only XML white space (or nothing).
func IsSpace(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return false
		}
	}
	return true
}

// Unmarshal decodes one stored element (written by Element.Bytes) in the
// jabber:client namespace. Its limits follow the data's size, not a
// stream's: what was accepted under one stream's limits, plus what the
// server added (a delay stamp), must read back whatever they are now.
func Unmarshal(b []byte) (*stanza.Element, error) {
	r := io.MultiReader(strings.NewReader(`<stream:stream xmlns="jabber:client" xmlns:stream="`+stanza.NSStream+`">`), bytes.NewReader(b))
	n := len(b) + 1024 // every node, attribute and declaration takes bytes
	d := NewDecoder(r, Limits{MaxStanza: n, MaxDepth: n, MaxElements: n, MaxAttrs: n, MaxScope: n})
	if _, err := d.Header(); err != nil {
		return nil, err
	}
	return d.Next()
}
