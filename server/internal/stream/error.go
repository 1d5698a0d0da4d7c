package stream

import (
	"bytes"

	"hearth/server/internal/stanza"
)

// Stream error conditions (RFC 6120 4.9.3).
const (
	BadFormat              = "bad-format"
	BadNamespacePrefix     = "bad-namespace-prefix"
	Conflict               = "conflict"
	ConnectionTimeout      = "connection-timeout"
	HostGone               = "host-gone"
	HostUnknown            = "host-unknown"
	ImproperAddressing     = "improper-addressing"
	InternalServerError    = "internal-server-error"
	InvalidFrom            = "invalid-from"
	InvalidNamespace       = "invalid-namespace"
	InvalidXML             = "invalid-xml"
	NotAuthorized          = "not-authorized"
	NotWellFormed          = "not-well-formed"
	PolicyViolation        = "policy-violation"
	RemoteConnectionFailed = "remote-connection-failed"
	Reset                  = "reset"
	ResourceConstraint     = "resource-constraint"
	RestrictedXML          = "restricted-xml"
	SeeOtherHost           = "see-other-host"
	SystemShutdown         = "system-shutdown"
	UndefinedCondition     = "undefined-condition"
	UnsupportedEncoding    = "unsupported-encoding"
	UnsupportedFeature     = "unsupported-feature"
	UnsupportedStanzaType  = "unsupported-stanza-type"
	UnsupportedVersion     = "unsupported-version"
)

// Error is a stream error: sending it closes the stream.
type Error struct {
	Condition string
	Text      string
	// Extra is an application-specific condition (RFC 6120 4.9.4), such
	// as stream management's <handled-count-too-high/>; may be nil.
	Extra *stanza.Element
}

func (e *Error) Error() string {
	if e.Text != "" {
		return "stream error: " + e.Condition + ": " + e.Text
	}
	return "stream error: " + e.Condition
}

// Common stream errors.
var (
	ErrNotWellFormed = &Error{Condition: NotWellFormed}
	ErrRestrictedXML = &Error{Condition: RestrictedXML, Text: "comments, processing instructions, DTDs and entity references are not allowed"}
)

// Element renders <stream:error/>.
func (e *Error) Element() *stanza.Element {
	el := stanza.New("error", stanza.NSStream)
	el.Append(stanza.New(e.Condition, stanza.NSStreams))
	if e.Text != "" {
		el.Append(stanza.New("text", stanza.NSStreams).AppendText(e.Text))
	}
	if e.Extra != nil {
		el.Append(e.Extra)
	}
	return el
}

// AppendError writes a stream error in the stream:-prefixed form clients expect.
func AppendError(b *bytes.Buffer, e *Error) {
	b.WriteString("<stream:error><")
	b.WriteString(e.Condition)
	b.WriteString(` xmlns="` + stanza.NSStreams + `"/>`)
	if e.Text != "" {
		b.WriteString(`<text xmlns="` + stanza.NSStreams + `">`)
		stanza.EscapeText(b, e.Text)
		b.WriteString("</text>")
	}
	if e.Extra != nil {
		e.Extra.WriteTo(b, "")
	}
	b.WriteString("</stream:error>")
}

// AppendHeader writes the XML declaration and the opening stream tag.
func AppendHeader(b *bytes.Buffer, h Header) {
	b.WriteString(`<?xml version='1.0'?><stream:stream xmlns="`)
	stanza.EscapeAttr(b, h.NS)
	b.WriteString(`" xmlns:stream="` + stanza.NSStream + `"`)
	attr := func(name, v string) {
		if v != "" {
			b.WriteString(" " + name + `="`)
			stanza.EscapeAttr(b, v)
			b.WriteByte('"')
		}
	}
	attr("id", h.ID)
	attr("from", h.From)
	attr("to", h.To)
	attr("version", h.Version)
	attr("xml:lang", h.Lang)
	for _, a := range h.Attrs {
		if a.Name.Space == "xmlns" {
			b.WriteString(" xmlns:" + a.Name.Local + `="`)
			stanza.EscapeAttr(b, a.Value)
			b.WriteByte('"')
		}
	}
	b.WriteByte('>')
}

// Close is the closing tag of a stream.
const Close = "</stream:stream>"

// AppendFeatures writes <stream:features> with the given children, on a
// stream whose content namespace is ns.
func AppendFeatures(b *bytes.Buffer, ns string, features ...*stanza.Element) {
	b.WriteString("<stream:features>")
	for _, f := range features {
		f.Encode(b, ns)
	}
	b.WriteString("</stream:features>")
}
