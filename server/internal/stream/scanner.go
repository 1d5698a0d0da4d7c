package stream

import (
	"bufio"
	"encoding/xml"
	"errors"
	"io"
	"sync"
	"unicode/utf8"

	"hearth/server/internal/stanza"
)

// Decoder reads one stream. It is a hand-written tokenizer for the
// restricted XML of RFC 6120 11 that builds stanza.Element trees directly:
// no DTDs, comments, processing instructions (other than the XML
// declaration before the stream header) or entity references other than
// the five predefined ones and character references; CDATA sections are
// allowed. Names are checked against XML 1.0 (fifth edition) 2.3 and
// Namespaces in XML 1.0; text against UTF-8 and the Char production (2.2).
//
// Where it differs from the encoding/xml decoder it replaced (kept in
// reference_test.go for FuzzDifferential):
//   - Namespaces in XML 1.0 are enforced: an unbound prefix, a name that is
//     not a QName (<:a>, <a:>), xmlns:p="", binding or misusing the xml and
//     xmlns prefixes or namespaces, and a repeated namespace declaration are
//     not-well-formed (encoding/xml kept an unbound prefix as the namespace).
//   - Attributes need whitespace between them, and repeated attributes are
//     refused in the stream header too.
//   - Attribute values are normalised (XML 1.0 3.3.3): a literal tab,
//     newline or CR (CRLF counting once) becomes a space.
//   - A character reference must name a Char: &#xD800; is refused, not
//     turned into U+FFFD. Names follow the fifth edition of XML 1.0.
//   - Errors are found as bytes arrive, not once a token is complete, so a
//     bad token cut short by EOF or the size limit is reported as what is
//     wrong with it; comments, DTDs, PIs and entity references are
//     restricted-xml as soon as they start; a malformed reference (&#;) is
//     not-well-formed rather than restricted-xml.
//   - Element.Wire is the exact size of the element (encoding/xml's count
//     missed the '<' after whitespace), and the stanza limit applies to it
//     exactly.
//   - An empty CDATA section adds no empty text node (so <a><![CDATA[]]></a>
//     is <a/>, and serialising and decoding again gives the same tree).
//   - The XML declaration's encoding, if not UTF-8, is unsupported-encoding
//     and a version other than 1.0 not-well-formed (both were plain errors).
//
// It scans the bytes its read buffer already holds, so markup is not
// copied byte by byte, and the stanza limit is enforced as bytes are
// consumed: a huge token is refused before it is buffered.
type Decoder struct {
	lim   Limits
	br    *bufio.Reader // the source when the caller gave a bufio.Reader
	r     io.Reader     // else the source, read into small or rbuf
	rbuf  *[]byte       // pooled read buffer, held while it has unread bytes
	small [64]byte
	rerr  error // a read error that came with bytes, for the next fill
	fills int   // reads during this call
	sc    *scratch

	// win is br's buffered bytes (peeked, not yet discarded); pos is how
	// many of them are consumed; end is len(win) cut at the limit, so the
	// fast path never reads past it.
	win      []byte
	pos, end int
	off      int // offset of win[0] in the stream
	stop     int // offset at which the stanza limit is passed

	buf              []byte            // scratch: names, attribute values, text
	rattrs           []rawAttr         // scratch: attributes of the start tag being read
	kids             []*stanza.Element // scratch: children of open elements
	ns               []binding         // namespace declarations in scope
	root             string            // qualified name of the stream header
	tagColon, tagEnd int               // name of the start tag in buf
	all              string            // the start tag's bytes as one string, once needed
	allOK            bool
	closed           bool // the header was self-closing
	opened           bool // header read
	attrs            int  // attributes in the stanza being read
	server           bool // a jabber:server stream: its stanzas are kept in jabber:client
	elements         int
}

type rawAttr struct {
	name, colon, nameEnd int // offsets in buf; colon is -1 without prefix
	val, valEnd          int
	decl                 bool   // xmlns or xmlns:p
	space                string // resolved namespace
}

// local is the offset of the local part of the name.
func (a *rawAttr) local() int {
	if a.colon < 0 {
		return a.name
	}
	return a.colon + 1
}

type binding struct {
	prefix, uri string // prefix "" is the default namespace
}

// NewDecoder returns a decoder reading from r.
func NewDecoder(r io.Reader, lim Limits) *Decoder {
	d := &Decoder{lim: lim.WithDefaults()}
	d.Reset(r)
	return d
}

// Reset starts a new stream over r (after STARTTLS), or over the same
// buffered source when r is nil (stream restart after SASL, RFC 6120 6.4.6).
func (d *Decoder) Reset(r io.Reader) {
	if r != nil {
		d.sync()
		d.drop()
		if br, ok := r.(*bufio.Reader); ok {
			d.br, d.r = br, nil
		} else {
			d.br, d.r = nil, r
		}
	}
	d.sync()
	clear(d.ns)
	d.ns = d.ns[:0]
	d.opened = false
	d.closed = false
	d.server = false
	d.root = ""
}

// SetLimits changes the limits from the next element on (after
// authentication, a stream gets its full limits).
func (d *Decoder) SetLimits(lim Limits) { d.lim = lim.WithDefaults() }

// Buffered reports how many bytes are read from the source but not yet
// decoded; STARTTLS must not start with bytes pending (RFC 6120 5.4.3.3).
func (d *Decoder) Buffered() int {
	if d.br != nil {
		return d.br.Buffered() - d.pos
	}
	return len(d.win) - d.pos
}

// Unread returns the bytes read from the source and not yet decoded (the
// beginning of the next element, between calls); they are valid until
// the next call.
func (d *Decoder) Unread() []byte {
	if d.br != nil {
		b, _ := d.br.Peek(d.br.Buffered())
		return b[min(d.pos, len(b)):]
	}
	return d.win[d.pos:]
}

// Read buffers are pooled: an idle connection waits in a read of the small
// array inside its Decoder and holds no buffer of 1 KiB. Scratch space for
// names, values and text is pooled too and held only while a stanza is
// being read.
var (
	readPool    = sync.Pool{New: func() any { b := make([]byte, 1024); return &b }}
	scratchPool = sync.Pool{New: func() any { return new(scratch) }}
)

type scratch struct {
	buf    []byte
	rattrs []rawAttr
	kids   []*stanza.Element
}

// begin waits for input, then takes scratch space from the pool.
func (d *Decoder) begin() error {
	d.fills = 0
	if d.pos >= len(d.win) {
		if err := d.fill(); err != nil {
			return err
		}
	}
	sc := scratchPool.Get().(*scratch)
	d.buf, d.rattrs, d.kids = sc.buf[:0], sc.rattrs[:0], sc.kids[:0]
	sc.buf, sc.rattrs, sc.kids = nil, nil, nil
	d.sc = sc
	return nil
}

// sync ends a call: it hands consumed bytes back to br (so br is
// consistent between calls) or drops an emptied pooled buffer, and
// returns the scratch space.
func (d *Decoder) sync() {
	d.off += d.pos
	if d.br != nil {
		if d.pos > 0 {
			d.br.Discard(d.pos)
		}
		d.win = nil
	} else {
		d.win = d.win[d.pos:]
		if len(d.win) == 0 {
			d.drop()
		}
	}
	d.pos, d.end = 0, 0
	d.all, d.allOK = "", false
	if sc := d.sc; sc != nil {
		d.sc = nil
		clear(d.rattrs[:cap(d.rattrs)])
		clear(d.kids[:cap(d.kids)])
		if cap(d.buf) <= 64<<10 && cap(d.kids) <= 1024 && cap(d.rattrs) <= 256 {
			sc.buf, sc.rattrs, sc.kids = d.buf[:0], d.rattrs[:0], d.kids[:0]
			scratchPool.Put(sc)
		}
		d.buf, d.rattrs, d.kids = nil, nil, nil
	}
}

// drop forgets unread bytes of the own buffer and returns it to the pool.
func (d *Decoder) drop() {
	d.win = nil
	if d.rbuf != nil {
		readPool.Put(d.rbuf)
		d.rbuf = nil
	}
}

// count restarts the stanza byte count at the current position.
func (d *Decoder) count() {
	d.stop = d.off + d.pos + d.lim.MaxStanza
	d.end = min(len(d.win), d.stop-d.off)
}

func (d *Decoder) next() (byte, error) {
	if d.pos < d.end {
		b := d.win[d.pos]
		d.pos++
		return b, nil
	}
	return d.nextSlow()
}

func (d *Decoder) nextSlow() (byte, error) {
	if d.off+d.pos >= d.stop {
		return 0, errTooBig
	}
	if d.pos >= len(d.win) {
		if err := d.fill(); err != nil {
			return 0, err
		}
	}
	b := d.win[d.pos]
	d.pos++
	return b, nil
}

// fill replaces the consumed window with the next bytes from the source.
func (d *Decoder) fill() error {
	d.off += d.pos
	d.pos, d.end = 0, 0
	if d.br != nil {
		if len(d.win) > 0 {
			d.br.Discard(len(d.win))
		}
		d.win = nil
		if _, err := d.br.Peek(1); err != nil {
			return err
		}
		d.win, _ = d.br.Peek(d.br.Buffered())
	} else {
		d.win = nil
		if d.rerr != nil {
			err := d.rerr
			d.rerr = nil
			return err
		}
		var p []byte
		if d.fills == 0 && d.rbuf == nil {
			// The first read of a call may wait long: into the small array.
			p = d.small[:]
		} else {
			if d.rbuf == nil {
				d.rbuf = readPool.Get().(*[]byte)
			}
			p = *d.rbuf
		}
		d.fills++
		n, err := 0, error(nil)
		for i := 0; n == 0 && err == nil; i++ {
			if i == 100 {
				err = io.ErrNoProgress
				break
			}
			n, err = d.r.Read(p)
		}
		if n == 0 {
			return err
		}
		d.rerr = err
		d.win = p[:n]
	}
	d.end = min(len(d.win), d.stop-d.off)
	return nil
}

// unread gives back the byte just read; it is always in the window.
func (d *Decoder) unread() { d.pos-- }

func nwf(text string) error { return &Error{Condition: NotWellFormed, Text: text} }

// errTextOutside is text where only whitespace may be: before the stream
// header and between stanzas.
var errTextOutside = nwf("text outside an element (is this an XMPP client?)")

// fail maps an error from the reader to what the API returns.
func fail(err error) error {
	if cut, ok := err.(*cutError); ok {
		err = cut.err
	}
	switch {
	case err == errTooBig:
		return &Error{Condition: PolicyViolation, Text: "stanza too big"}
	case err == io.EOF, errors.Is(err, io.ErrUnexpectedEOF):
		return io.EOF
	}
	return err
}

// Header reads up to and including the stream header.
func (d *Decoder) Header() (Header, error) {
	err := d.begin()
	var h Header
	if err == nil {
		h, err = d.header()
	}
	d.sync()
	if err != nil {
		return Header{}, fail(err)
	}
	return h, nil
}

func (d *Decoder) header() (Header, error) {
	d.count()
	for {
		d.buf = d.buf[:0]
		err := d.charData(false)
		if cut, ok := err.(*cutError); ok {
			return Header{}, cut.err
		}
		if _, ok := err.(*Error); ok {
			return Header{}, err
		}
		if !IsSpace(d.buf) {
			return Header{}, ErrNotWellFormed
		}
		if err != nil {
			return Header{}, err
		}
		b, err := d.next()
		if err != nil {
			return Header{}, err
		}
		switch b {
		case '?':
			// The XML declaration; any other processing instruction is
			// refused (RFC 6120 11.1).
			if err := d.xmlDecl(); err != nil {
				return Header{}, err
			}
			continue
		case '!':
			if err := d.bang(); err != nil {
				return Header{}, err
			}
			// A CDATA section before the header: whitespace only.
			if !IsSpace(d.buf) {
				return Header{}, ErrNotWellFormed
			}
			continue
		case '/':
			return Header{}, nwf("unexpected end tag")
		}
		d.unread()
		d.buf = d.buf[:0]
		self, err := d.startTag()
		if err != nil {
			return Header{}, err
		}
		return d.openStream(self)
	}
}

// xmlDecl reads a processing instruction after "<?"; only the XML
// declaration is allowed.
func (d *Decoder) xmlDecl() error {
	d.buf = d.buf[:0]
	if _, err := d.name(); err != nil {
		return err
	}
	if string(d.buf) != "xml" {
		return ErrRestrictedXML
	}
	d.buf = d.buf[:0]
	var b0 byte
	for {
		b, err := d.next()
		if err != nil {
			return err
		}
		if b0 == '?' && b == '>' {
			break
		}
		d.buf = append(d.buf, b)
		b0 = b
	}
	content := string(d.buf[:len(d.buf)-1])
	if v := procInst("version", content); v != "" && v != "1.0" {
		return nwf("unsupported XML version " + v)
	}
	if e := procInst("encoding", content); e != "" && !equalFoldASCII(e, "utf-8") {
		return &Error{Condition: UnsupportedEncoding}
	}
	return nil
}

func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// procInst finds param='value' in a declaration, as encoding/xml does.
func procInst(param, s string) string {
	param += "="
	i := 0
	var sep byte
	for i < len(s) {
		sub := s[i:]
		k := indexString(sub, param)
		if k < 0 || len(param)+k >= len(sub) {
			return ""
		}
		i += len(param) + k + 1
		if c := sub[len(param)+k]; c == '\'' || c == '"' {
			sep = c
			break
		}
	}
	if sep == 0 {
		return ""
	}
	for j := i; j < len(s); j++ {
		if s[j] == sep {
			return s[i:j]
		}
	}
	return ""
}

func indexString(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

// Next returns the next top-level element. Whitespace between elements
// (keepalives) is skipped. It returns ErrClosed at </stream:stream>, a
// *Error for a violation, or the underlying read error.
func (d *Decoder) Next() (*stanza.Element, error) {
	if d.closed {
		return nil, ErrClosed
	}
	err := d.begin()
	var el *stanza.Element
	if err == nil {
		el, err = d.nextElement()
	}
	d.sync()
	if err != nil {
		return nil, fail(err)
	}
	return el, nil
}

func (d *Decoder) nextElement() (*stanza.Element, error) {
	if d.closed {
		return nil, ErrClosed
	}
	d.count()
	for {
		d.buf = d.buf[:0]
		err := d.charData(false)
		if cut, ok := err.(*cutError); ok {
			return nil, cut.err
		}
		if _, ok := err.(*Error); ok {
			return nil, err
		}
		if !IsSpace(d.buf) {
			return nil, ErrNotWellFormed
		}
		if err != nil {
			return nil, err
		}
		start := d.off + d.pos - 1 // the '<'
		d.stop = start + d.lim.MaxStanza
		d.end = min(len(d.win), d.stop-d.off)
		b, err := d.next()
		if err != nil {
			return nil, err
		}
		switch b {
		case '/':
			d.buf = d.buf[:0]
			if err := d.endTag(); err != nil {
				return nil, err
			}
			if string(d.buf) != d.root {
				return nil, nwf("element <" + d.root + "> closed by </" + string(d.buf) + ">")
			}
			return nil, ErrClosed
		case '?':
			return nil, ErrRestrictedXML
		case '!':
			d.buf = d.buf[:0]
			if err := d.bang(); err != nil {
				return nil, err
			}
			if !IsSpace(d.buf) {
				return nil, ErrNotWellFormed
			}
			d.count()
			continue
		}
		d.unread()
		d.elements, d.attrs = 0, 0
		d.kids = d.kids[:0]
		el, err := d.element(1)
		if err != nil {
			return nil, err
		}
		el.Wire = d.off + d.pos - start
		// Its strings are about its wire bytes; the nodes cost the rest.
		el.Mem = el.Wire + d.elements*stanza.NodeCost + d.attrs*stanza.AttrCost
		return el, nil
	}
}

// bang reads what follows "<!": a CDATA section, appended to buf, or a
// comment or declaration, which restricted XML refuses.
func (d *Decoder) bang() error {
	b, err := d.next()
	if err != nil {
		return err
	}
	if b != '[' {
		return ErrRestrictedXML
	}
	for i := 0; i < 6; i++ {
		if b, err = d.next(); err != nil {
			return err
		}
		if b != "CDATA["[i] {
			return nwf("invalid <![ sequence")
		}
	}
	var b0, b1 byte
	cr := false
	for {
		b, err := d.next()
		if err != nil {
			return err
		}
		switch {
		case b == '>' && b0 == ']' && b1 == ']':
			d.buf = d.buf[:len(d.buf)-2]
			return nil
		case b == '\r':
			d.buf = append(d.buf, '\n')
			cr = true
			b0, b1 = b1, b
			continue
		case b == '\n':
			if !cr {
				d.buf = append(d.buf, '\n')
			}
		case b < 0x20 && b != '\t':
			return nwf("illegal character")
		case b >= utf8.RuneSelf:
			if err := d.appendRune(b); err != nil {
				return err
			}
		default:
			d.buf = append(d.buf, b)
		}
		cr = false
		b0, b1 = b1, b
	}
}

// str returns buf[i:j] as a string: an interned one for common names and
// namespaces, else a substring of one conversion of the whole tag.
func (d *Decoder) str(i, j int) string {
	if s, ok := interned[string(d.buf[i:j])]; ok {
		return s
	}
	if !d.allOK {
		d.all, d.allOK = string(d.buf), true
	}
	return d.all[i:j]
}

// declare validates the namespace declarations of the start tag just read
// and brings them into scope (Namespaces in XML 1.0, 3).
func (d *Decoder) declare() error {
	for i := range d.rattrs {
		a := &d.rattrs[i]
		a.decl = false
		var prefix string
		switch {
		case a.colon < 0 && string(d.buf[a.name:a.nameEnd]) == "xmlns":
		case a.colon >= 0 && string(d.buf[a.name:a.colon]) == "xmlns":
			prefix = d.str(a.colon+1, a.nameEnd)
		default:
			continue
		}
		a.decl = true
		uri := d.str(a.val, a.valEnd)
		switch {
		case prefix == "xmlns":
			return nwf("the xmlns prefix cannot be declared")
		case prefix == "xml" && uri != stanza.NSXML:
			return nwf("the xml prefix cannot be rebound")
		case prefix != "xml" && uri == stanza.NSXML, uri == nsXMLNS:
			return nwf("reserved namespace " + uri)
		case prefix != "" && uri == "":
			return nwf("empty namespace for prefix " + prefix)
		}
		if len(d.ns) >= d.lim.MaxScope {
			return &Error{Condition: PolicyViolation, Text: "too many namespace declarations"}
		}
		d.ns = append(d.ns, binding{prefix: prefix, uri: uri})
	}
	return nil
}

const nsXMLNS = "http://www.w3.org/2000/xmlns/"

// lookup resolves a prefix ("" for the default namespace) in scope.
func (d *Decoder) lookup(prefix []byte) (uri, pfx string, ok bool) {
	if string(prefix) == "xml" {
		return stanza.NSXML, "xml", true
	}
	for i := len(d.ns) - 1; i >= 0; i-- {
		if d.ns[i].prefix == string(prefix) {
			return d.ns[i].uri, d.ns[i].prefix, true
		}
	}
	return "", "", len(prefix) == 0
}

// checkAttrs resolves attribute prefixes and refuses repeats (XML 1.0 3.1
// Unique Att Spec, Namespaces in XML 1.0 6.3): a second from or type must
// never ride past the stamping.
func (d *Decoder) checkAttrs() error {
	for i := range d.rattrs {
		a := &d.rattrs[i]
		a.space = ""
		if a.decl {
			a.space = nsXMLNS
			continue
		}
		if a.colon >= 0 {
			p := d.buf[a.name:a.colon]
			if string(p) == "xmlns" {
				continue
			}
			uri, _, ok := d.lookup(p)
			if !ok {
				return nwf("unbound namespace prefix " + string(p))
			}
			a.space = uri
		}
	}
	local := func(a *rawAttr) []byte {
		if a.decl && a.colon < 0 {
			return nil
		}
		return d.buf[a.local():a.nameEnd]
	}
	dup := func(a *rawAttr) error {
		if a.decl {
			return nwf("duplicate namespace declaration")
		}
		return nwf("duplicate attribute " + string(local(a)))
	}
	if len(d.rattrs) > 16 {
		type key struct{ space, local string }
		seen := make(map[key]struct{}, len(d.rattrs))
		for i := range d.rattrs {
			a := &d.rattrs[i]
			k := key{a.space, string(local(a))}
			if _, ok := seen[k]; ok {
				return dup(a)
			}
			seen[k] = struct{}{}
		}
		return nil
	}
	for i := 1; i < len(d.rattrs); i++ {
		a := &d.rattrs[i]
		for j := 0; j < i; j++ {
			b := &d.rattrs[j]
			if a.space == b.space && a.decl == b.decl && string(local(a)) == string(local(b)) {
				return dup(a)
			}
		}
	}
	return nil
}

// openStream checks the start tag just read as the stream header.
func (d *Decoder) openStream(self bool) (Header, error) {
	local := d.buf[:d.tagEnd]
	var prefix []byte
	if d.tagColon >= 0 {
		prefix, local = d.buf[:d.tagColon], d.buf[d.tagColon+1:d.tagEnd]
	}
	if string(local) != "stream" {
		return Header{}, &Error{Condition: InvalidNamespace, Text: "expected stream:stream"}
	}
	if err := d.declare(); err != nil {
		return Header{}, err
	}
	if uri, _, ok := d.lookup(prefix); !ok || uri != stanza.NSStream {
		return Header{}, &Error{Condition: InvalidNamespace}
	}
	if err := d.checkAttrs(); err != nil {
		return Header{}, err
	}
	d.root = d.str(0, d.tagEnd)
	h := Header{Attrs: make([]xml.Attr, 0, len(d.rattrs))}
	for _, a := range d.rattrs {
		var n xml.Name
		switch {
		case a.colon < 0:
			n.Local = d.str(a.name, a.nameEnd)
		case a.decl:
			n.Space, n.Local = "xmlns", d.str(a.colon+1, a.nameEnd)
		default:
			n.Space, n.Local = a.space, d.str(a.colon+1, a.nameEnd)
		}
		v := d.str(a.val, a.valEnd)
		h.Attrs = append(h.Attrs, xml.Attr{Name: n, Value: v})
		switch {
		case n.Space == "" && n.Local == "xmlns":
			h.NS = v
		case n.Space == "":
			switch n.Local {
			case "to":
				h.To = v
			case "from":
				h.From = v
			case "id":
				h.ID = v
			case "version":
				h.Version = v
			}
		case n.Space == stanza.NSXML && n.Local == "lang":
			h.Lang = v
		}
	}
	d.opened = true
	d.closed = self
	d.server = h.NS == stanza.NSServer
	return h, nil
}

// element reads an element whose start tag begins at the current byte.
func (d *Decoder) element(depth int) (*stanza.Element, error) {
	d.buf = d.buf[:0]
	self, err := d.startTag()
	if err != nil {
		return nil, err
	}
	if depth > d.lim.MaxDepth {
		return nil, &Error{Condition: PolicyViolation, Text: "nesting too deep"}
	}
	d.elements++
	if d.elements > d.lim.MaxElements {
		return nil, &Error{Condition: PolicyViolation, Text: "too many elements in one stanza"}
	}
	mark := len(d.ns)
	if err := d.declare(); err != nil {
		return nil, err
	}
	el := &stanza.Element{}
	var prefix []byte
	if d.tagColon >= 0 {
		prefix = d.buf[:d.tagColon]
		if string(prefix) == "xmlns" {
			return nil, nwf("element with the xmlns prefix")
		}
		el.Name = d.str(d.tagColon+1, d.tagEnd)
	} else {
		el.Name = d.str(0, d.tagEnd)
	}
	uri, pfx, ok := d.lookup(prefix)
	if !ok {
		return nil, nwf("unbound namespace prefix " + string(prefix))
	}
	if uri == stanza.NSServer && d.server {
		// Trees do not depend on the stream (see stanza.Element.Encode).
		uri = stanza.NSClient
	}
	el.NS = uri
	if err := d.checkAttrs(); err != nil {
		return nil, err
	}
	n := 0
	for i := range d.rattrs {
		if !d.rattrs[i].decl {
			n++
		}
	}
	d.attrs += n
	if n > 0 {
		el.Attrs = make([]stanza.Attr, 0, n)
		for _, a := range d.rattrs {
			if !a.decl {
				el.Attrs = append(el.Attrs, stanza.Attr{Space: a.space, Name: d.str(a.local(), a.nameEnd), Value: d.str(a.val, a.valEnd)})
			}
		}
	}
	d.all, d.allOK = "", false
	if !self {
		if err := d.content(el, pfx, depth); err != nil {
			return nil, err
		}
	}
	clear(d.ns[mark:])
	d.ns = d.ns[:mark]
	return el, nil
}

// content reads the children of el up to and including its end tag.
func (d *Decoder) content(el *stanza.Element, prefix string, depth int) error {
	kids := len(d.kids)
	for {
		d.buf = d.buf[:0]
	text:
		err := d.charData(true)
		if err != nil {
			return err
		}
		b, err := d.next()
		if err != nil {
			return err
		}
		if b == '!' {
			if err := d.bang(); err != nil {
				return err
			}
			goto text
		}
		if len(d.buf) > 0 { // an empty CDATA section is no text
			d.elements++
			if d.elements > d.lim.MaxElements {
				return &Error{Condition: PolicyViolation, Text: "too many elements in one stanza"}
			}
			d.kids = append(d.kids, stanza.TextNode(string(d.buf)))
		}
		switch b {
		case '/':
			d.buf = d.buf[:0]
			if err := d.endTag(); err != nil {
				return err
			}
			if !matchQName(d.buf, prefix, el.Name) {
				return nwf("element <" + el.Name + "> closed by </" + string(d.buf) + ">")
			}
			if n := len(d.kids) - kids; n > 0 {
				el.Children = make([]*stanza.Element, n)
				copy(el.Children, d.kids[kids:])
				clear(d.kids[kids:])
				d.kids = d.kids[:kids]
			}
			return nil
		case '?':
			return ErrRestrictedXML
		}
		d.unread()
		c, err := d.element(depth + 1)
		if err != nil {
			return err
		}
		d.kids = append(d.kids, c)
	}
}

func matchQName(b []byte, prefix, local string) bool {
	if prefix == "" {
		return string(b) == local
	}
	return len(b) == len(prefix)+1+len(local) && string(b[:len(prefix)]) == prefix &&
		b[len(prefix)] == ':' && string(b[len(prefix)+1:]) == local
}

// startTag reads a start tag after its '<' into buf and rattrs, and
// reports whether it was an empty-element tag.
func (d *Decoder) startTag() (self bool, err error) {
	d.rattrs = d.rattrs[:0]
	d.all, d.allOK = "", false
	if d.tagColon, err = d.qname(); err != nil {
		return false, err
	}
	d.tagEnd = len(d.buf)
	for {
		b, err := d.next()
		if err != nil {
			return false, err
		}
		space := false
		for isSpaceByte(b) {
			space = true
			if b, err = d.next(); err != nil {
				return false, err
			}
		}
		switch b {
		case '>':
			return false, nil
		case '/':
			if b, err = d.next(); err != nil {
				return false, err
			}
			if b != '>' {
				return false, nwf("expected /> in element")
			}
			return true, nil
		}
		if !space {
			return false, nwf("whitespace required between attributes")
		}
		d.unread()
		a := rawAttr{name: len(d.buf)}
		if a.colon, err = d.qname(); err != nil {
			return false, err
		}
		a.nameEnd = len(d.buf)
		if b, err = d.skipSpace(); err != nil {
			return false, err
		}
		if b != '=' {
			return false, nwf("attribute name without = in element")
		}
		if b, err = d.skipSpace(); err != nil {
			return false, err
		}
		if b != '"' && b != '\'' {
			return false, nwf("unquoted or missing attribute value in element")
		}
		a.val = len(d.buf)
		if err := d.attrValue(b); err != nil {
			return false, err
		}
		a.valEnd = len(d.buf)
		if len(d.rattrs) >= d.lim.MaxAttrs {
			return false, &Error{Condition: PolicyViolation, Text: "too many attributes in one element"}
		}
		d.rattrs = append(d.rattrs, a)
	}
}

func (d *Decoder) skipSpace() (byte, error) {
	for {
		b, err := d.next()
		if err != nil || !isSpaceByte(b) {
			return b, err
		}
	}
}

func isSpaceByte(b byte) bool { return b == ' ' || b == '\t' || b == '\r' || b == '\n' }

// endTag reads the name of an end tag after "</" into buf, and its '>'.
func (d *Decoder) endTag() error {
	if _, err := d.qname(); err != nil {
		return err
	}
	b, err := d.skipSpace()
	if err != nil {
		return err
	}
	if b != '>' {
		return nwf("invalid characters in end tag")
	}
	return nil
}

// qname appends a QName (Namespaces in XML 1.0, 4) to buf and returns the
// offset of its colon, or -1.
func (d *Decoder) qname() (int, error) {
	start := len(d.buf)
	if _, err := d.name(); err != nil {
		return 0, err
	}
	colon := -1
	for i := start; i < len(d.buf); i++ {
		if d.buf[i] == ':' {
			if colon >= 0 {
				return 0, nwf("invalid QName")
			}
			colon = i
		}
	}
	if colon == start || colon == len(d.buf)-1 {
		return 0, nwf("invalid QName")
	}
	if colon >= 0 {
		// The local part is a name of its own (Namespaces in XML 1.0
		// 4): <p:0a> would be written back as <0a>, which no parser
		// reads.
		if r, _ := utf8.DecodeRune(d.buf[colon+1:]); r < utf8.RuneSelf && !nameStartByte[r] || r >= utf8.RuneSelf && !isNameStartRune(r) {
			return 0, nwf("invalid QName")
		}
	}
	return colon, nil
}

// name appends an XML Name (XML 1.0 2.3) to buf; the byte after it is
// left unread.
func (d *Decoder) name() (int, error) {
	start := len(d.buf)
	for {
		// Fast path: ASCII name bytes already in the window.
		i := d.pos
		for i < d.end && nameByte[d.win[i]] {
			i++
		}
		if i > d.pos {
			if len(d.buf) == start && !nameStartByte[d.win[d.pos]] {
				return 0, nwf("invalid XML name")
			}
			d.buf = append(d.buf, d.win[d.pos:i]...)
			d.pos = i
		}
		b, err := d.next()
		if err != nil {
			return 0, err
		}
		if b < utf8.RuneSelf {
			if nameByte[b] {
				if len(d.buf) == start && !nameStartByte[b] {
					return 0, nwf("invalid XML name")
				}
				d.buf = append(d.buf, b)
				continue
			}
			d.unread()
			if len(d.buf) == start {
				return 0, nwf("expected a name")
			}
			return start, nil
		}
		r, err := d.readRune(b)
		if err != nil {
			return 0, err
		}
		if !isNameStartRune(r) && (len(d.buf) == start || !isNameRune(r)) {
			return 0, nwf("invalid XML name")
		}
		d.buf = utf8.AppendRune(d.buf, r)
	}
}

// charData appends character data (XML 1.0 2.4) to buf up to and
// including the next '<', which is consumed and not appended. At the end
// of input it returns io.EOF.
func (d *Decoder) charData(inElement bool) error {
	var b0, b1 byte // the last raw bytes, for "]]>"
	cr := false
	for {
		i := d.pos
		for i < d.end && textByte[d.win[i]] {
			i++
		}
		if i > d.pos {
			if !inElement && !IsSpace(d.win[d.pos:i]) {
				// Between stanzas, or before the header, only whitespace:
				// say so at once, not when a '<' finally comes (an HTTP
				// request sent to the port would wait for the timeout).
				return errTextOutside
			}
			d.buf = append(d.buf, d.win[d.pos:i]...)
			d.pos = i
			b0, b1, cr = 0, 0, false
		}
		b, err := d.next()
		if err != nil {
			return err
		}
		switch {
		case b == '<':
			return nil
		case !inElement && !isSpaceByte(b):
			return errTextOutside
		case b == '&':
			if err := d.ref(); err != nil {
				return err
			}
			b0, b1, cr = 0, 0, false
			continue
		case b == '\r':
			d.buf = append(d.buf, '\n')
			b0, b1, cr = b1, b, true
			continue
		case b == '\n':
			if !cr {
				d.buf = append(d.buf, '\n')
			}
		case b == '>' && b0 == ']' && b1 == ']':
			return nwf("unescaped ]]> not in CDATA section")
		case b < 0x20 && b != '\t':
			return nwf("illegal character")
		case b >= utf8.RuneSelf:
			if err := d.appendRune(b); err != nil {
				return err
			}
		default:
			d.buf = append(d.buf, b)
		}
		b0, b1, cr = b1, b, false
	}
}

// attrValue appends an attribute value up to the closing quote q,
// normalised as XML 1.0 3.3.3 requires: a literal tab, newline or
// carriage return (a CRLF pair counting once) becomes a space; escaped
// ones stay.
func (d *Decoder) attrValue(q byte) error {
	cr := false
	for {
		i := d.pos
		for i < d.end && attrByte[d.win[i]] {
			i++
		}
		if i > d.pos {
			d.buf = append(d.buf, d.win[d.pos:i]...)
			d.pos = i
			cr = false
		}
		b, err := d.next()
		if err != nil {
			return err
		}
		switch {
		case b == q:
			return nil
		case b == '<':
			return nwf("unescaped < inside quoted string")
		case b == '&':
			if err := d.ref(); err != nil {
				return err
			}
		case b == '\r':
			d.buf = append(d.buf, ' ')
			cr = true
			continue
		case b == '\n':
			if !cr {
				d.buf = append(d.buf, ' ')
			}
		case b == '\t':
			d.buf = append(d.buf, ' ')
		case b < 0x20:
			return nwf("illegal character")
		case b >= utf8.RuneSelf:
			if err := d.appendRune(b); err != nil {
				return err
			}
		default:
			d.buf = append(d.buf, b)
		}
		cr = false
	}
}

// ref reads a reference after '&' and appends its character: one of the
// five predefined entities or a character reference (XML 1.0 4.1, 4.6).
// Any other entity reference is refused (RFC 6120 11.1).
func (d *Decoder) ref() error {
	if err := d.ref1(); err != nil {
		if _, ok := err.(*Error); !ok {
			return &cutError{err}
		}
		return err
	}
	return nil
}

// cutError is a read error inside a reference. At the top level a read
// error (EOF, a deadline, the size limit) after text still lets the text
// be judged first, as encoding/xml did: "hello" and then a timeout is
// not-well-formed. Inside a reference, the read error itself is returned.
type cutError struct{ err error }

func (e *cutError) Error() string { return e.err.Error() }
func (e *cutError) Unwrap() error { return e.err }

func (d *Decoder) ref1() error {
	b, err := d.next()
	if err != nil {
		return err
	}
	if b == '#' {
		if b, err = d.next(); err != nil {
			return err
		}
		base := rune(10)
		if b == 'x' {
			base = 16
			if b, err = d.next(); err != nil {
				return err
			}
		}
		var r rune
		digits := 0
		for {
			var v rune
			switch {
			case '0' <= b && b <= '9':
				v = rune(b - '0')
			case base == 16 && 'a' <= b && b <= 'f':
				v = rune(b-'a') + 10
			case base == 16 && 'A' <= b && b <= 'F':
				v = rune(b-'A') + 10
			default:
				v = -1
			}
			if v < 0 {
				break
			}
			digits++
			if r = r*base + v; r > utf8.MaxRune {
				r = utf8.MaxRune + 1 // stays out of range
			}
			if b, err = d.next(); err != nil {
				return err
			}
		}
		if b != ';' || digits == 0 {
			return nwf("invalid character reference")
		}
		if !isChar(r) {
			return nwf("character reference to an illegal character")
		}
		d.buf = utf8.AppendRune(d.buf, r)
		return nil
	}
	d.unread()
	start := len(d.buf)
	if _, err := d.name(); err != nil {
		var se *Error
		if errors.As(err, &se) {
			return nwf("invalid entity reference")
		}
		return err
	}
	if b, err = d.next(); err != nil {
		return err
	}
	if b != ';' {
		return nwf("invalid entity reference")
	}
	var c byte
	switch string(d.buf[start:]) {
	case "lt":
		c = '<'
	case "gt":
		c = '>'
	case "amp":
		c = '&'
	case "apos":
		c = '\''
	case "quot":
		c = '"'
	default:
		return ErrRestrictedXML
	}
	d.buf = append(d.buf[:start], c)
	return nil
}

// readRune reads the rest of a UTF-8 sequence that starts with lead.
func (d *Decoder) readRune(lead byte) (rune, error) {
	var p [utf8.UTFMax]byte
	p[0] = lead
	n := 0
	switch {
	case lead&0xE0 == 0xC0:
		n = 2
	case lead&0xF0 == 0xE0:
		n = 3
	case lead&0xF8 == 0xF0:
		n = 4
	default:
		return 0, nwf("invalid UTF-8")
	}
	for i := 1; i < n; i++ {
		b, err := d.next()
		if err == io.EOF {
			return 0, nwf("invalid UTF-8")
		}
		if err != nil {
			return 0, err
		}
		if b&0xC0 != 0x80 {
			return 0, nwf("invalid UTF-8")
		}
		p[i] = b
	}
	r, size := utf8.DecodeRune(p[:n])
	if r == utf8.RuneError && size <= 1 {
		return 0, nwf("invalid UTF-8")
	}
	return r, nil
}

// appendRune reads a non-ASCII character of text and appends it.
func (d *Decoder) appendRune(lead byte) error {
	r, err := d.readRune(lead)
	if err != nil {
		return err
	}
	if !isChar(r) {
		return nwf("illegal character")
	}
	d.buf = utf8.AppendRune(d.buf, r)
	return nil
}

// isChar is the Char production (XML 1.0 2.2).
func isChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}

// isNameStartRune and isNameRune are NameStartChar and NameChar (XML 1.0
// fifth edition 2.3) for non-ASCII characters.
func isNameStartRune(r rune) bool {
	return r >= 0xC0 && r <= 0xD6 || r >= 0xD8 && r <= 0xF6 ||
		r >= 0xF8 && r <= 0x2FF || r >= 0x370 && r <= 0x37D ||
		r >= 0x37F && r <= 0x1FFF || r >= 0x200C && r <= 0x200D ||
		r >= 0x2070 && r <= 0x218F || r >= 0x2C00 && r <= 0x2FEF ||
		r >= 0x3001 && r <= 0xD7FF || r >= 0xF900 && r <= 0xFDCF ||
		r >= 0xFDF0 && r <= 0xFFFD || r >= 0x10000 && r <= 0xEFFFF
}

func isNameRune(r rune) bool {
	return isNameStartRune(r) || r == 0xB7 || r >= 0x300 && r <= 0x36F || r >= 0x203F && r <= 0x2040
}

// Byte classes for the fast paths.
var nameStartByte, nameByte, textByte, attrByte [256]bool

func init() {
	for c := 0; c < utf8.RuneSelf; c++ {
		b := byte(c)
		nameStartByte[c] = 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || b == '_' || b == ':'
		nameByte[c] = nameStartByte[c] || '0' <= b && b <= '9' || b == '-' || b == '.'
		plain := b >= 0x20 && b != '<' && b != '&'
		textByte[c] = plain && b != ']' && b != '>'
		attrByte[c] = plain && b != '"' && b != '\''
	}
}

// interned holds the names, namespaces and values common enough that
// decoding them should not cost an allocation.
var interned = map[string]string{}

func init() {
	for _, s := range []string{
		// stanzas and their usual children and attributes
		"message", "presence", "iq", "body", "subject", "thread", "show", "status", "priority",
		"error", "text", "query", "x", "item", "items", "c", "delay", "stanza-id", "origin-id",
		"active", "composing", "paused", "inactive", "gone", "request", "received", "markable",
		"displayed", "acknowledged", "r", "a", "enable", "enabled", "resume", "bind", "session",
		"resource", "jid", "ping", "pubsub", "publish", "event", "store", "no-store", "no-copy",
		"private", "sent", "forwarded", "result", "fin", "set", "first", "last", "count", "max",
		"before", "after", "auth", "response", "success", "failure", "challenge", "starttls",
		"proceed", "stream", "features", "mechanisms", "mechanism", "group", "value", "field",
		"to", "from", "id", "type", "xmlns", "lang", "version", "name", "node", "var", "by",
		"stamp", "ver", "hash", "subscription", "ask", "xml", "code", "h", "jid", "nick", "role",
		"affiliation", "queryid", "with", "start", "end", "mechanism",
		// attribute values
		"chat", "groupchat", "normal", "headline", "get", "result", "unavailable", "subscribe",
		"subscribed", "unsubscribe", "unsubscribed", "probe", "away", "xa", "dnd", "en", "1.0",
		"cancel", "modify", "wait", "continue", "none", "both", "remove", "true", "false",
		// namespaces
		stanza.NSStream, stanza.NSStreams, stanza.NSXML, "jabber:client", "jabber:server",
		"jabber:iq:roster", "jabber:iq:version", "jabber:iq:last", "jabber:iq:private",
		"jabber:x:data", "jabber:x:conference", "vcard-temp", "vcard-temp:x:update",
		"urn:ietf:params:xml:ns:xmpp-stanzas", "urn:ietf:params:xml:ns:xmpp-sasl",
		"urn:ietf:params:xml:ns:xmpp-tls", "urn:ietf:params:xml:ns:xmpp-bind",
		"urn:ietf:params:xml:ns:xmpp-session", "http://jabber.org/protocol/chatstates",
		"http://jabber.org/protocol/caps", "http://jabber.org/protocol/disco#info",
		"http://jabber.org/protocol/disco#items", "http://jabber.org/protocol/muc",
		"http://jabber.org/protocol/muc#user", "http://jabber.org/protocol/pubsub",
		"http://jabber.org/protocol/pubsub#event", "urn:xmpp:ping", "urn:xmpp:time",
		"urn:xmpp:receipts", "urn:xmpp:chat-markers:0", "urn:xmpp:delay", "urn:xmpp:sid:0",
		"urn:xmpp:hints", "urn:xmpp:carbons:2", "urn:xmpp:forward:0", "urn:xmpp:mam:2",
		"urn:xmpp:sm:3", "urn:xmpp:blocking", "urn:xmpp:message-correct:0",
		"urn:xmpp:http:upload:0", "urn:xmpp:avatar:metadata", "urn:xmpp:avatar:data",
		"urn:xmpp:bookmarks:1", "urn:xmpp:omemo:2", "eu.siacs.conversations.axolotl",
		"http://jabber.org/protocol/rsm", "urn:xmpp:csi:0", "urn:xmpp:reply:0",
		"urn:xmpp:reactions:0", "urn:xmpp:occupant-id:0", "jabber:x:oob",
	} {
		interned[s] = s
	}
}
