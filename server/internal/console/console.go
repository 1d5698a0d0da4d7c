// Package console is the server side of the admin XML console: it cuts a
// stream's raw bytes into top-level elements, redacts what must never leave
// the server (SASL payloads, passwords, stream-management resumption ids)
// and hands the frames to a watcher without ever blocking the stream.
package console

import (
	"strconv"
	"sync"
	"time"
)

// Limits of a watch.
const (
	// MaxFrame is how many bytes of one element a frame keeps; the rest
	// is cut off with a note saying how much.
	MaxFrame = 16 << 10
	// Buffer is how many frames may wait for a slow reader before frames
	// are dropped (and counted).
	Buffer = 256
)

// Frame is one top-level element of a stream, redacted.
type Frame struct {
	At  time.Time
	Out bool // sent by the server
	XML string
	// Dropped counts the frames lost just before this one because the
	// reader was too slow.
	Dropped int
}

// Watch receives a stream's bytes in both directions and delivers
// redacted frames on C. Write never blocks: when C is full, frames are
// counted and dropped. Each direction's bytes must start at an element
// boundary (the stream's framing sees to that).
type Watch struct {
	mu      sync.Mutex
	c       chan Frame
	in, out splitter
	dropped int
	ended   bool
}

// New returns a watch with an empty buffer.
func New() *Watch { return &Watch{c: make(chan Frame, Buffer)} }

// C delivers the frames; it is closed by End.
func (w *Watch) C() <-chan Frame { return w.c }

// Write takes bytes the server received (out false) or sent (out true).
func (w *Watch) Write(out bool, p []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ended {
		return
	}
	sp := &w.in
	if out {
		sp = &w.out
	}
	sp.write(p, func(frame []byte, cut int) {
		xml := Redact(frame)
		if cut > 0 {
			xml += " [" + strconv.Itoa(cut) + " more bytes not shown]"
		}
		w.send(Frame{At: time.Now(), Out: out, XML: xml})
	})
}

// send delivers f, or counts it as dropped; w.mu is held.
func (w *Watch) send(f Frame) {
	f.Dropped = w.dropped
	select {
	case w.c <- f:
		w.dropped = 0
	default:
		w.dropped++
	}
}

// End closes C; later writes are ignored. It may be called more than once.
func (w *Watch) End() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.ended {
		w.ended = true
		close(w.c)
	}
}

// splitter cuts one direction of a stream into top-level elements. It
// follows just enough XML to find where each element ends: tags, quoted
// attribute values, CDATA sections, comments and processing instructions.
type splitter struct {
	st    state
	depth int
	quote byte
	end   bool // the tag is an end tag
	slash bool // the last byte of the tag outside quotes was '/'
	bang  []byte
	buf   []byte // the frame so far, at most MaxFrame bytes
	cut   int    // bytes of the frame beyond MaxFrame
	begun bool   // the frame has more than whitespace
}

type state uint8

const (
	sText  state = iota
	sLT          // after '<'
	sTag         // in a start or end tag
	sQuote       // in a quoted attribute value
	sBang        // after "<!", deciding between CDATA and a comment
	sCDATA
	sComment
	sPI
)

func (s *splitter) write(p []byte, emit func(frame []byte, cut int)) {
	for _, b := range p {
		if !s.begun && s.st == sText && s.depth == 0 {
			if b == ' ' || b == '\t' || b == '\r' || b == '\n' {
				continue // keepalives between elements
			}
			s.begun = true
		}
		if len(s.buf) < MaxFrame {
			s.buf = append(s.buf, b)
		} else {
			s.cut++
		}
		if s.step(b) {
			emit(s.buf, s.cut)
			s.buf, s.cut, s.begun = s.buf[:0], 0, false
			if cap(s.buf) > MaxFrame {
				s.buf = nil
			}
		}
	}
}

// step advances the state by one byte and reports whether a top-level
// element (or the stream's end tag) ended with it.
func (s *splitter) step(b byte) bool {
	switch s.st {
	case sText:
		if b == '<' {
			s.st = sLT
		}
	case sLT:
		switch b {
		case '/':
			s.st, s.end, s.slash = sTag, true, false
		case '!':
			s.st, s.bang = sBang, s.bang[:0]
		case '?':
			s.st = sPI
		default:
			s.st, s.end, s.slash = sTag, false, false
		}
	case sTag:
		switch b {
		case '"', '\'':
			s.st, s.quote = sQuote, b
		case '>':
			s.st = sText
			switch {
			case s.end:
				s.depth--
				if s.depth <= 0 {
					s.depth = 0
					return true
				}
			case s.slash:
				return s.depth == 0
			default:
				s.depth++
			}
		case ' ', '\t', '\r', '\n':
		default:
			s.slash = b == '/'
		}
	case sQuote:
		if b == s.quote {
			s.st, s.slash = sTag, false
		}
	case sBang:
		if len(s.bang) < 7 {
			s.bang = append(s.bang, b)
		}
		switch {
		case string(s.bang) == "[CDATA[":
			s.st, s.bang = sCDATA, s.bang[:0]
		case string(s.bang) == "--":
			s.st, s.bang = sComment, s.bang[:0]
		case len(s.bang) >= 7 || b == '>':
			// Neither (a DTD, which the decoder refuses): up to '>'.
			if b == '>' {
				s.st = sText
				return s.depth == 0
			}
		}
	case sCDATA:
		if s.trail(b, "]]>") {
			s.st = sText
		}
	case sComment:
		if s.trail(b, "-->") {
			s.st = sText
			return s.depth == 0
		}
	case sPI:
		if s.trail(b, "?>") {
			s.st = sText
			return s.depth == 0
		}
	}
	return false
}

// trail keeps the last bytes of a section and reports whether they are
// its end marker.
func (s *splitter) trail(b byte, end string) bool {
	s.bang = append(s.bang, b)
	if len(s.bang) > len(end) {
		s.bang = s.bang[len(s.bang)-len(end):]
	}
	if string(s.bang) == end {
		s.bang = s.bang[:0]
		return true
	}
	return false
}
