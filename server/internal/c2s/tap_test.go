package c2s

import (
	"net"
	"strings"
	"testing"

	"hearth/server/internal/console"
	"hearth/server/internal/stream"
)

// TestTapAligned: a watch that begins while an element is half read never
// shows the rest of it out of context (here a password's end); it begins
// with the next element, whether that is read later or was buffered with
// the end of the one before.
func TestTapAligned(t *testing.T) {
	server, client := net.Pipe()
	defer server.Close()
	defer client.Close()
	f := newTCP(server, "hearth.test", stream.Limits{})
	go client.Write([]byte(`<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='hearth.test' version='1.0'>`))
	if _, err := f.ReadOpen(); err != nil {
		t.Fatal(err)
	}
	tp := new(tap)
	f.Tap(tp)

	type result struct {
		name string
		err  error
	}
	next := func() chan result {
		ch := make(chan result, 1)
		go func() {
			el, err := f.Next()
			if err != nil {
				ch <- result{err: err}
				return
			}
			ch <- result{name: el.Name + "#" + el.Attr("id")}
		}()
		return ch
	}
	write := func(s string) {
		if _, err := client.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}

	first := next()
	// A pipe's Write returns once the reader took every byte.
	write(`<iq type='set' id='1'><query xmlns='jabber:iq:register'><password>secret-`)
	w := console.New()
	if !tp.attach(w) {
		t.Fatal("attach failed")
	}
	go client.Write([]byte(`half</password></query></iq><message id='2'><body>shown</body></message>`))
	if r := <-first; r.name != "iq#1" {
		t.Fatalf("first element %+v", r)
	}
	if r := <-next(); r.name != "message#2" {
		t.Fatalf("second element %+v", r)
	}
	third := next()
	write(`<message id='3'/>`)
	if r := <-third; r.name != "message#3" {
		t.Fatalf("third element %+v", r)
	}
	tp.end()
	if tp.attach(console.New()) {
		t.Error("attached to an ended stream")
	}
	var got []string
	for fr := range w.C() {
		got = append(got, fr.XML)
	}
	want := []string{`<message id='2'><body>shown</body></message>`, `<message id='3'/>`}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("watch showed\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestTapDecodeError: a watch that begins while an element is half read,
// where that element then fails to parse, shows nothing after the point
// of the error (the reviewer's case: the decoder stops at \x01 in a
// password, and what it holds after that is not the start of an element).
func TestTapDecodeError(t *testing.T) {
	server, client := net.Pipe()
	defer server.Close()
	defer client.Close()
	f := newTCP(server, "hearth.test", stream.Limits{})
	go client.Write([]byte(`<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='hearth.test' version='1.0'>`))
	if _, err := f.ReadOpen(); err != nil {
		t.Fatal(err)
	}
	tp := new(tap)
	f.Tap(tp)

	errc := make(chan error, 1)
	go func() {
		_, err := f.Next()
		errc <- err
	}()
	if _, err := client.Write([]byte(`<iq type='set' id='1'><query xmlns='jabber:iq:password'><password>Tops3cr`)); err != nil {
		t.Fatal(err)
	}
	w := console.New()
	if !tp.attach(w) {
		t.Fatal("attach failed")
	}
	go client.Write([]byte("et\x01PasswordRest</password></query></iq><message id='2'><body>after</body></message>"))
	if err := <-errc; err == nil {
		t.Fatal("the element with \\x01 was read without an error")
	}
	// Whatever the reader does after the error shows nothing either.
	go func() { _, _ = f.Next() }()
	go client.Write([]byte(`<message id='3'/>`))
	tp.end()
	for fr := range w.C() {
		if strings.Contains(fr.XML, "PasswordRest") || strings.Contains(fr.XML, "</password>") || strings.Contains(fr.XML, "Tops3cr") {
			t.Errorf("watch showed a piece of the password: %q", fr.XML)
		} else if !fr.Out {
			t.Errorf("watch showed incoming data after a decode error: %q", fr.XML)
		}
	}
}
