package gui

import (
	"context"
	"fmt"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"hearth/server/admin"
)

// logRecords is how many records the Log tab keeps (the server keeps as
// many).
const logRecords = admin.DefaultLogRecords

// logLevels are the level filter's choices, least first, and the levels
// of slog each shows.
var logLevels = []struct {
	label string
	shows []string
}{
	{"Debug and up", []string{"DEBUG", "INFO", "WARN", "ERROR"}},
	{"Info and up", []string{"INFO", "WARN", "ERROR"}},
	{"Warnings and errors", []string{"WARN", "ERROR"}},
	{"Errors only", []string{"ERROR"}},
}

// logsTab shows the server's recent log, newest at the bottom: logins,
// failed logins, sessions, stream errors and whatever went wrong.
type logsTab struct {
	u       *UI
	content fyne.CanvasObject

	level  *widget.Select
	status *widget.Label
	view   *widget.TextGrid
	scroll *container.Scroll

	// Owned by the UI goroutine.
	records []logEntry
	last    uint64 // the Seq of the newest record shown
	stale   bool   // records came while the tab was not in sight

	// Records on their way to the UI goroutine.
	incoming handoff[admin.LogRecord]
}

// logEntry is a record as kept: laid out once, when it arrives.
type logEntry struct {
	level   string
	line    string
	dropped int // records not shown just before it
}

func newLogsTab(u *UI) *logsTab {
	t := &logsTab{u: u}
	t.incoming = handoff[admin.LogRecord]{max: logRecords, dropped: func(r admin.LogRecord) int { return r.Dropped }}
	labels := make([]string, len(logLevels))
	for i, l := range logLevels {
		labels[i] = l.label
	}
	t.status = widget.NewLabel("Loading…")
	t.view = widget.NewTextGrid()
	t.scroll = container.NewScroll(t.view)
	t.level = widget.NewSelect(labels, func(string) { t.render() })
	t.level.SetSelected(logLevels[1].label)
	top := container.NewVBox(
		wrapped("What the server did recently: logins and failed logins with the address they came from, devices connecting and leaving, and problems."),
		container.NewBorder(nil, nil, key("Show"), nil, t.level),
		t.status)
	t.content = container.NewBorder(top, nil, nil, nil, t.scroll)
	return t
}

// follow runs in the background while the window runs: it reads what the
// server kept, then new records as they come, again after the server went
// away and came back.
func (t *logsTab) follow(ctx context.Context) {
	var since uint64
	for {
		live := t.u.api.WatchLogs(ctx)
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		recs, err := t.u.api.Logs(cctx, since)
		cancel()
		if err != nil {
			t.u.do(func() { t.status.SetText(describe("Cannot read the log", err).Error()) })
		}
		t.post(recs)
		if len(recs) > 0 {
			since = recs[len(recs)-1].Seq
		}
		for rec := range live {
			if rec.Seq <= since {
				continue // read with Logs already
			}
			since = rec.Seq
			t.post([]admin.LogRecord{rec})
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(rewatchAfter):
		}
	}
}

// post hands records to the UI goroutine (see handoff).
func (t *logsTab) post(recs []admin.LogRecord) {
	if t.incoming.add(recs...) {
		t.u.do(t.takePending)
	}
}

func (t *logsTab) takePending() {
	recs, cut := t.incoming.take()
	for _, r := range recs {
		if r.Seq <= t.last && r.Seq != 0 {
			continue
		}
		t.last = r.Seq
		t.records = append(t.records, logEntry{level: r.Level, line: logLine(r), dropped: r.Dropped + cut})
		cut = 0
	}
	if n := len(t.records) - logRecords; n > 0 {
		t.records = append(t.records[:0], t.records[n:]...)
	}
	t.render()
}

// render shows the records of the chosen levels, newest at the bottom;
// while the tab is out of sight it only notes that the view is behind.
func (t *logsTab) render() {
	if !t.u.inSight(t.content) {
		t.stale = true
		return
	}
	t.stale = false
	shows := logLevels[1].shows
	for _, l := range logLevels {
		if l.label == t.level.Selected {
			shows = l.shows
		}
	}
	var b strings.Builder
	n := 0
	for _, r := range t.records {
		if r.dropped > 0 {
			fmt.Fprintf(&b, "… %s not shown: the window fell behind\n", plural(r.dropped, "record", "records"))
		}
		if !contains(shows, r.level) {
			continue
		}
		n++
		b.WriteString(r.line)
		b.WriteByte('\n')
	}
	t.view.SetText(strings.TrimRight(b.String(), "\n"))
	t.scroll.ScrollToBottom()
	t.status.SetText(fmt.Sprintf("%s shown of the %d most recent.", plural(n, "record", "records"), len(t.records)))
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// logLine is one record on one line: time, level, message, then its
// details.
func logLine(r admin.LogRecord) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s  %-5s  %s", r.Time.Local().Format("Jan 2 15:04:05"), r.Level, r.Message)
	for _, a := range r.Attrs {
		if a.Key == "part" {
			continue
		}
		v := a.Value
		if strings.ContainsAny(v, " \t") {
			v = fmt.Sprintf("%q", v)
		}
		b.WriteString("  " + a.Key + "=" + v)
	}
	return b.String()
}
