package gui

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"hearth/server/admin"
)

// What the XML console keeps: the newest frames, at most this many and
// this many bytes of XML and its layout; older ones scroll away. At most
// consoleFrames wait for the UI goroutine too: when it falls behind, the
// oldest waiting are cut and counted as not shown.
const (
	consoleFrames = 500
	consoleBytes  = 1 << 20
)

// consoleEntry is a frame as kept: laid out once, when it arrives.
type consoleEntry struct {
	xml     string // as the server sent it, for the filter
	text    string // its lines in the view, direction and time first
	dropped int    // frames not shown just before it
}

func (e consoleEntry) size() int { return len(e.xml) + len(e.text) }

// consoleTab watches one live session's stream: the stanzas it sends and
// receives, pretty-printed, with the server's redactions (SASL payloads,
// passwords, resumption ids never reach the window).
type consoleTab struct {
	u        *UI
	content  fyne.CanvasObject
	sessions *reloader

	pick   *widget.Select
	watch  *widget.Button
	pause  *widget.Button
	clear  *widget.Button
	filter *widget.Entry
	status *widget.Label
	view   *widget.TextGrid
	scroll *container.Scroll

	// Owned by the UI goroutine.
	frames  []consoleEntry
	bytes   int
	stale   bool // frames came while the tab was not in sight
	paused  bool
	unseen  int                // frames that came while paused
	stop    context.CancelFunc // ends the current watch; nil: none
	watchID int                // counts watches, so a late word from an old one is ignored
	watched string

	// Frames on their way to the UI goroutine.
	incoming handoff[admin.ConsoleFrame]
}

func newConsoleTab(u *UI) *consoleTab {
	t := &consoleTab{u: u}
	t.incoming = handoff[admin.ConsoleFrame]{max: consoleFrames, dropped: func(f admin.ConsoleFrame) int { return f.Dropped }}
	t.sessions = &reloader{u: u, load: t.loadSessions}
	t.pick = widget.NewSelect(nil, func(string) { t.updateButtons() })
	t.pick.PlaceHolder = "(pick a connected device)"
	t.watch = widget.NewButtonWithIcon("Watch", theme.MediaPlayIcon(), t.toggleWatch)
	t.watch.Importance = widget.HighImportance
	t.pause = widget.NewButtonWithIcon("Pause", theme.MediaPauseIcon(), t.togglePause)
	t.clear = widget.NewButtonWithIcon("Clear", theme.ContentClearIcon(), func() {
		t.frames, t.bytes, t.unseen = nil, 0, 0
		t.render()
	})
	t.filter = widget.NewEntry()
	t.filter.SetPlaceHolder("show only stanzas containing…")
	t.filter.OnChanged = func(string) { t.render() }
	t.status = widget.NewLabel("Pick a session to watch its XML stream.")
	t.status.Wrapping = fyne.TextWrapWord
	t.view = widget.NewTextGrid()
	t.scroll = container.NewScroll(t.view)
	hint := wrapped("What a device and the server say to each other, live. Login exchanges, session-resumption ids and the protocol's password and secret fields are replaced by [redacted] before they leave the server; what people write in messages is shown as sent.")

	controls := container.NewBorder(nil, nil, key("Session"), container.NewHBox(t.watch, t.pause, t.clear), t.pick)
	top := container.NewVBox(hint, controls, container.NewBorder(nil, nil, key("Filter"), nil, t.filter), t.status)
	t.content = container.NewBorder(top, nil, nil, nil, t.scroll)
	t.updateButtons()
	return t
}

func (t *consoleTab) loadSessions(ctx context.Context) func() {
	ss, err := t.u.api.Sessions(ctx)
	return func() {
		if err != nil {
			t.status.SetText(describe("Cannot list the sessions", err).Error())
			return
		}
		opts := make([]string, 0, len(ss))
		for _, s := range ss {
			opts = append(opts, s.JID)
		}
		slices.Sort(opts)
		t.pick.SetOptions(opts)
		t.updateButtons()
	}
}

func (t *consoleTab) updateButtons() {
	switch {
	case t.stop != nil:
		t.watch.SetText("Stop")
		t.watch.SetIcon(theme.MediaStopIcon())
		t.watch.Enable()
	default:
		t.watch.SetText("Watch")
		t.watch.SetIcon(theme.MediaPlayIcon())
		if t.pick.Selected == "" {
			t.watch.Disable()
		} else {
			t.watch.Enable()
		}
	}
	if t.paused {
		t.pause.SetText("Resume")
		t.pause.SetIcon(theme.MediaPlayIcon())
	} else {
		t.pause.SetText("Pause")
		t.pause.SetIcon(theme.MediaPauseIcon())
	}
}

func (t *consoleTab) toggleWatch() {
	if t.stop != nil {
		t.stop()
		t.stop = nil
		t.status.SetText("Stopped watching " + t.watched + ".")
		t.updateButtons()
		return
	}
	jid := t.pick.Selected
	if jid == "" {
		return
	}
	ctx, cancel := context.WithCancel(t.u.ctx)
	t.watchID++
	t.stop, t.watched = cancel, jid
	t.status.SetText("Connecting to " + jid + "…")
	t.updateButtons()
	id := t.watchID
	t.u.background(func(context.Context) { t.follow(ctx, cancel, id, jid) })
}

// follow runs in the background for one watch: it hands frames to the UI
// goroutine in batches until the watch ends.
func (t *consoleTab) follow(ctx context.Context, cancel context.CancelFunc, id int, jid string) {
	defer cancel()
	frames, err := t.u.api.Console(ctx, jid)
	if err != nil {
		t.u.do(func() { t.ended(id, describe("Cannot watch "+jid, err).Error()) })
		return
	}
	t.u.do(func() {
		if t.stop != nil && t.watchID == id && !t.paused {
			t.status.SetText("Watching " + jid + ": the newest stanzas are at the bottom.")
		}
	})
	ended := false
	for f := range frames {
		ended = f.Dir == admin.DirOut && strings.HasSuffix(f.XML, "</stream:stream>")
		t.add(f)
	}
	if ctx.Err() == nil {
		why := "The session of " + jid + " ended."
		if !ended {
			// The server ends a watch early when another one begins.
			why = "Stopped watching " + jid + ": the session ended, or another window is watching it now."
		}
		t.u.do(func() { t.ended(id, why) })
	}
}

// ended shows why a watch ended, if it is still the current one.
func (t *consoleTab) ended(id int, why string) {
	if t.stop == nil || t.watchID != id {
		return // stopped by hand, or replaced: nothing to say
	}
	t.stop = nil
	t.status.SetText(why)
	t.updateButtons()
}

// add hands a frame to the UI goroutine (see handoff).
func (t *consoleTab) add(f admin.ConsoleFrame) {
	if t.incoming.add(f) {
		t.u.do(t.takePending)
	}
}

func (t *consoleTab) takePending() {
	fs, cut := t.incoming.take()
	for _, f := range fs {
		e := consoleEntry{xml: f.XML, text: consoleBlock(f), dropped: f.Dropped + cut}
		cut = 0
		t.frames = append(t.frames, e)
		t.bytes += e.size()
		if t.paused {
			t.unseen++
		}
	}
	drop := 0
	for len(t.frames)-drop > consoleFrames || t.bytes > consoleBytes && drop < len(t.frames) {
		t.bytes -= t.frames[drop].size()
		drop++
	}
	t.frames = slices.Delete(t.frames, 0, drop)
	if t.paused {
		t.status.SetText(fmt.Sprintf("Paused: %s came since.", plural(t.unseen, "stanza", "stanzas")))
		return
	}
	t.render()
}

func (t *consoleTab) togglePause() {
	t.paused = !t.paused
	t.unseen = 0
	if !t.paused {
		t.render()
		if t.stop != nil {
			t.status.SetText("Watching " + t.watched + ": the newest stanzas are at the bottom.")
		}
	} else {
		t.status.SetText("Paused: the view stays as it is; new stanzas are kept.")
	}
	t.updateButtons()
}

// render shows the frames that pass the filter, newest at the bottom;
// while the tab is out of sight it only notes that the view is behind.
func (t *consoleTab) render() {
	if t.paused {
		return
	}
	if !t.u.inSight(t.content) {
		t.stale = true
		return
	}
	t.stale = false
	t.view.SetText(consoleText(t.frames, t.filter.Text))
	t.scroll.ScrollToBottom()
}

// consoleText lays out the kept frames for the view.
func consoleText(frames []consoleEntry, filter string) string {
	filter = strings.ToLower(strings.TrimSpace(filter))
	var b strings.Builder
	for _, e := range frames {
		if e.dropped > 0 {
			fmt.Fprintf(&b, "… %s not shown: the window fell behind\n\n", plural(e.dropped, "stanza", "stanzas"))
		}
		if filter != "" && !strings.Contains(strings.ToLower(e.xml), filter) {
			continue
		}
		b.WriteString(e.text)
		b.WriteString("\n\n")
	}
	return strings.TrimRight(b.String(), "\n")
}

// consoleBlock is one frame in the view: its direction and time, then its
// XML indented.
func consoleBlock(f admin.ConsoleFrame) string {
	mark := "◀ IN   from the device"
	if f.Dir == admin.DirOut {
		mark = "▶ OUT  to the device"
	}
	return mark + "  " + f.At.Local().Format("15:04:05.000") + "\n" + prettyXML(f.XML)
}

// prettyXML indents one element for reading; what it cannot read (a cut
// frame, the stream's end tag) is shown as it came.
func prettyXML(s string) string {
	d := xml.NewDecoder(strings.NewReader(s))
	var toks []xml.Token
	for {
		tok, err := d.RawToken()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return s
		}
		toks = append(toks, xml.CopyToken(tok))
	}
	open := 0
	for _, tok := range toks {
		switch tok.(type) {
		case xml.StartElement:
			open++
		case xml.EndElement:
			open--
		}
	}
	if open > 0 {
		return s // cut off
	}
	var b bytes.Buffer
	depth := 0
	indent := func() {
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(strings.Repeat("  ", max(depth, 0)))
	}
	for i := 0; i < len(toks); i++ {
		switch tok := toks[i].(type) {
		case xml.StartElement:
			indent()
			writeStart(&b, tok)
			// <a/> and <a>short text</a> stay on one line.
			if i+1 < len(toks) {
				if _, ok := toks[i+1].(xml.EndElement); ok {
					b.Truncate(b.Len() - 1)
					b.WriteString("/>")
					i++
					continue
				}
			}
			if i+2 < len(toks) {
				cd, ok1 := toks[i+1].(xml.CharData)
				end, ok2 := toks[i+2].(xml.EndElement)
				if ok1 && ok2 && !bytes.ContainsRune(cd, '\n') {
					xml.EscapeText(&b, cd)
					b.WriteString("</" + qname(end.Name) + ">")
					i += 2
					continue
				}
			}
			depth++
		case xml.EndElement:
			depth--
			indent()
			b.WriteString("</" + qname(tok.Name) + ">")
		case xml.CharData:
			if text := bytes.TrimSpace(tok); len(text) > 0 {
				indent()
				xml.EscapeText(&b, text)
			}
		default:
			return s
		}
	}
	return b.String()
}

func writeStart(b *bytes.Buffer, e xml.StartElement) {
	b.WriteString("<" + qname(e.Name))
	for _, a := range e.Attr {
		b.WriteString(" " + qname(a.Name) + "='")
		xml.EscapeText(b, []byte(a.Value))
		b.WriteString("'")
	}
	b.WriteString(">")
}

func qname(n xml.Name) string {
	if n.Space == "" {
		return n.Local
	}
	return n.Space + ":" + n.Local
}
