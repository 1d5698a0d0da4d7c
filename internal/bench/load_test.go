package bench

import (
	"bufio"
	"errors"
	"flag"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

const header = `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='a>b' version='1.0'>`

// scanAll splits a stream read through a bufio.Reader of the given size and
// returns the tokens, with "open:" before stream headers, and the error
// that ended it.
func scanAll(in string, bufSize, max int) ([]string, error) {
	sc := newScanner(bufio.NewReaderSize(strings.NewReader(in), bufSize), max)
	var out []string
	for {
		kind, el, err := sc.next()
		if err != nil {
			return out, err
		}
		s := string(el)
		if kind == tokStreamOpen {
			s = "open:" + s
		}
		out = append(out, s)
	}
}

func TestScanner(t *testing.T) {
	openTag := "open:" + strings.TrimPrefix(header, "<?xml version='1.0'?>")
	tests := []struct {
		name string
		in   string
		want []string
		err  error
	}{
		{
			name: "features and close",
			in:   header + `<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features></stream:stream>`,
			want: []string{openTag, `<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>`},
			err:  errStreamEnd,
		},
		{
			name: "keepalives, self-closing and comment between elements",
			in:   header + "  \n<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/> <!-- a > b --> \t<iq type='result' id='x'/>",
			want: []string{openTag, `<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`, `<iq type='result' id='x'/>`},
			err:  io.EOF,
		},
		{
			name: "markup characters in attribute values, text and CDATA",
			in:   header + `<message id="a>b/>" to='x'><body>1 > 0 &amp; <![CDATA[</body> <x> ]]></body></message>`,
			want: []string{openTag, `<message id="a>b/>" to='x'><body>1 > 0 &amp; <![CDATA[</body> <x> ]]></body></message>`},
			err:  io.EOF,
		},
		{
			name: "stream restart after features",
			in:   header + `<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>` + header + `<stream:features/>`,
			want: []string{openTag, `<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>`, openTag, `<stream:features/>`},
			err:  io.EOF,
		},
		{
			name: "truncated element",
			in:   header + `<message><body>hi</bo`,
			want: []string{openTag},
			err:  io.ErrUnexpectedEOF,
		},
		{
			name: "truncated tag",
			in:   header + `<message id='`,
			want: []string{openTag},
			err:  io.ErrUnexpectedEOF,
		},
		{
			name: "too large",
			in:   header + `<message><body>` + strings.Repeat("x", 600) + `</body></message>`,
			want: []string{openTag},
			err:  errTooLarge,
		},
	}
	for _, tt := range tests {
		for _, size := range []int{16, 4096} { // 16 forces ReadSlice's ErrBufferFull path
			t.Run(tt.name, func(t *testing.T) {
				got, err := scanAll(tt.in, size, 512)
				if !slices.Equal(got, tt.want) {
					t.Errorf("buffer %d: tokens\n got %q\nwant %q", size, got, tt.want)
				}
				if !errors.Is(err, tt.err) {
					t.Errorf("buffer %d: err = %v, want %v", size, err, tt.err)
				}
			})
		}
	}
}

func TestAttr(t *testing.T) {
	el := []byte(`<iq  type = "result" id='b&apos;1' from='a@b/c' xml:lang='en'><query id='inner'/></iq>`)
	tests := []struct {
		key, want string
		ok        bool
	}{
		{"type", "result", true},
		{"id", "b'1", true},
		{"from", "a@b/c", true},
		{"xml:lang", "en", true},
		{"lang", "", false},
		{"to", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			_, ok := attr(el, tt.key)
			if got := attrString(el, tt.key); got != tt.want || ok != tt.ok {
				t.Errorf("attr(%q) = %q, %v; want %q, %v", tt.key, got, ok, tt.want, tt.ok)
			}
		})
	}
	for _, bad := range []string{``, `<`, `<a b`, `<a b=`, `<a b='x`, `<a b x='1'>`} {
		if v, ok := attr([]byte(bad), "x"); ok {
			t.Errorf("attr(%q) = %q, want nothing", bad, v)
		}
	}
}

func TestElementHelpers(t *testing.T) {
	bind := []byte(`<iq type='result' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>u1@d/r&amp;s</jid></bind></iq>`)
	if got, ok := childText(bind, "jid"); !ok || got != "u1@d/r&s" {
		t.Errorf("childText(jid) = %q, %v", got, ok)
	}
	if _, ok := childText(bind, "body"); ok {
		t.Error("childText found a body that is not there")
	}
	feats := []byte(`<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls><session xmlns='urn:ietf:params:xml:ns:xmpp-session'><optional/></session></stream:features>`)
	for name, want := range map[string]bool{"starttls": true, "required": true, "optional": true, "bind": false, "features": false} {
		if got := hasChild(feats, name); got != want {
			t.Errorf("hasChild(%s) = %v, want %v", name, got, want)
		}
	}
	if got := string(rootText([]byte(`<challenge xmlns='x'>cj1m</challenge>`))); got != "cj1m" {
		t.Errorf("rootText = %q", got)
	}
	if got := rootText([]byte(`<success xmlns='x'/>`)); len(got) != 0 {
		t.Errorf("rootText of empty element = %q", got)
	}
	failure := []byte(`<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized/><text>no</text></failure>`)
	if got := firstChild(failure); got != "not-authorized" {
		t.Errorf("firstChild = %q", got)
	}
	stanzaErr := []byte(`<iq type='error' id='reg'><query xmlns='jabber:iq:register'/><error type='cancel'><text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>taken</text><conflict xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>`)
	if got := errorCondition(stanzaErr); got != "conflict" {
		t.Errorf("errorCondition = %q", got)
	}
	if got := childNS([]byte(`<iq type='get' id='p'><ping xmlns='urn:xmpp:ping'/></iq>`)); got != nsPing {
		t.Errorf("childNS = %q", got)
	}
}

func TestUnescape(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"a &lt;b&gt; &amp; &quot;c&quot; &apos;d&apos;", `a <b> & "c" 'd'`},
		{"&#65;&#x42;&#x1F525;", "AB🔥"},
		{"&bogus; & &#xZZ; &#1114112;", "&bogus; & &#xZZ; &#1114112;"},
	}
	for _, tt := range tests {
		if got := string(unescape([]byte(tt.in))); got != tt.want {
			t.Errorf("unescape(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if got := string(unescape(appendEscaped(nil, tt.want))); got != tt.want {
			t.Errorf("escape round trip of %q = %q", tt.want, got)
		}
	}
}

func TestParseSeq(t *testing.T) {
	tests := []struct {
		in   string
		a, b int64
		ok   bool
	}{
		{"tX-3-42", 42, -1, true},
		{"tX-3-42-1700", 42, 1700, true},
		{"tX-3-", 0, 0, false},
		{"tX-3-4x", 0, 0, false},
		{"tX-3-4-", 0, 0, false},
		{"tX-3-4-5-6", 0, 0, false},
		{"tY-3-42", 0, 0, false},
		{"tX-3-99999999999999999999", 0, 0, false},
	}
	for _, tt := range tests {
		a, b, ok := parseSeq([]byte(tt.in), "tX-3-")
		if a != tt.a || b != tt.b || ok != tt.ok {
			t.Errorf("parseSeq(%q) = %d, %d, %v; want %d, %d, %v", tt.in, a, b, ok, tt.a, tt.b, tt.ok)
		}
	}
}

// TestMessageRoundTrip checks that what a sender writes is what a receiver
// recognises, through the id or, when a server replaced the id, the body.
func TestMessageRoundTrip(t *testing.T) {
	pr := &pairRun{padding: " xxxx"}
	p := &pair{to: "u2@d/r'x", prefix: "lABC-0-"}
	var b []byte
	b = pr.appendMessage(b, p, 7, 123456*time.Nanosecond)
	b = pr.appendMessage(b, p, 8, -1)
	stream := header + string(b) + strings.Replace(string(pr.appendMessage(nil, p, 9, -1)), "id='lABC-0-9'", "id='server-chose'", 1)
	sc := newScanner(bufio.NewReader(strings.NewReader(stream)), 4096)
	if _, _, err := sc.next(); err != nil {
		t.Fatal(err)
	}
	want := [][2]int64{{7, 123456}, {8, -1}, {9, -1}}
	for _, w := range want {
		_, el, err := sc.next()
		if err != nil {
			t.Fatal(err)
		}
		if got := attrString(el, "to"); got != p.to {
			t.Errorf("to = %q, want %q", got, p.to)
		}
		seq, ts, ok := seqOf(el, p.prefix)
		if !ok || seq != w[0] || ts != w[1] {
			t.Errorf("seqOf(%s) = %d, %d, %v; want %d, %d", el, seq, ts, ok, w[0], w[1])
		}
	}
}

func TestPercentile(t *testing.T) {
	var s samples
	for i := 100; i >= 1; i-- {
		s = append(s, time.Duration(i)*time.Millisecond)
	}
	sum := summarize(s)
	tests := []struct {
		name      string
		got, want time.Duration
	}{
		{"min", sum.Min, 1 * time.Millisecond},
		{"p50", sum.P50, 50 * time.Millisecond},
		{"p90", sum.P90, 90 * time.Millisecond},
		{"p99", sum.P99, 99 * time.Millisecond},
		{"p99.9", sum.P999, 100 * time.Millisecond},
		{"max", sum.Max, 100 * time.Millisecond},
		{"mean", sum.Mean, 50500 * time.Microsecond},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
	if sum.N != 100 {
		t.Errorf("n = %d", sum.N)
	}
	one := samples{7}
	if p := percentile(one, 0); p != 7 {
		t.Errorf("p0 of one sample = %v", p)
	}
	if p := percentile(one, 100); p != 7 {
		t.Errorf("p100 of one sample = %v", p)
	}
	if (summarize(nil) != summary{}) {
		t.Error("summary of no samples is not zero")
	}
	// Nearest rank: with 3 samples, p50 is the 2nd and p90 the 3rd.
	three := samples{3, 1, 2}
	slices.Sort(three)
	if p50, p90 := percentile(three, 50), percentile(three, 90); p50 != 2 || p90 != 3 {
		t.Errorf("p50, p90 of 1,2,3 = %v, %v", p50, p90)
	}
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		check func(*options) string
	}{
		{"subcommand first", []string{"logins", "--conc", "4", "--domain", "d.test"}, func(o *options) string {
			if o.scenario != "logins" || o.conc != 4 || o.port != 5222 || o.serverName != "d.test" || o.duration != 5*time.Second {
				return "logins defaults wrong"
			}
			return ""
		}},
		{"scenario flag", []string{"--scenario", "idle", "--direct-tls"}, func(o *options) string {
			if o.scenario != "idle" || o.port != 5223 || o.conc != 32 || o.domain != "127.0.0.1" {
				return "idle defaults wrong"
			}
			return ""
		}},
		{"scenario after flags", []string{"--host", "h", "throughput", "--pairs", "3"}, func(o *options) string {
			if o.scenario != "throughput" || o.pairs != 3 || o.window != 100 || o.domain != "h" {
				return "throughput wrong"
			}
			return ""
		}},
		{"count alone is unbounded in time", []string{"latency", "--count", "500"}, func(o *options) string {
			if o.duration != 0 || o.count != 500 {
				return "latency count wrong"
			}
			return ""
		}},
		{"fanout defaults", []string{"fanout", "--contacts", "20"}, func(o *options) string {
			if o.count != 100 || o.window != 8 || o.duration != 0 {
				return "fanout defaults wrong"
			}
			return ""
		}},
		{"room defaults", []string{"room", "--occupants", "30"}, func(o *options) string {
			if o.occupants != 30 || o.senders != 5 || o.window != 16 || o.duration != 5*time.Second || o.service != "" {
				return "room defaults wrong"
			}
			return ""
		}},
		{"pubsub defaults", []string{"pubsub", "--subscribers", "30"}, func(o *options) string {
			if o.subscribers != 30 || o.window != 4 || o.duration != 5*time.Second || o.service != "" || o.node != "" {
				return "pubsub defaults wrong"
			}
			return ""
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, _, err := parseFlags(tt.args)
			if err != nil {
				t.Fatal(err)
			}
			if msg := tt.check(o); msg != "" {
				t.Errorf("%s: %+v", msg, *o)
			}
		})
	}
}

func TestParseFlagsErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string // substrings, all of which must be reported
	}{
		{"no scenario", nil, []string{"no scenario"}},
		{"unknown", []string{"dance"}, []string{`unknown scenario "dance"`}},
		{"every problem at once", []string{"throughput", "--pairs", "60", "--ca", "x", "--insecure", "--user-fmt", "bob", "--mech", "MD5"},
			[]string{"needs 120 accounts", "--ca and --insecure", "--user-fmt", "--mech"}},
		{"fanout accounts", []string{"fanout", "--contacts", "100"}, []string{"needs 101 accounts"}},
		{"room accounts", []string{"room", "--occupants", "500", "--senders", "0"}, []string{"needs 500 accounts", "--senders"}},
		{"pubsub accounts", []string{"pubsub", "--subscribers", "100"}, []string{"needs 101 accounts"}},
		{"stray argument", []string{"logins", "extra"}, []string{"unexpected arguments"}},
		{"bad flag", []string{"logins", "--nope"}, []string{"nope"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := parseFlags(tt.args)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
	if _, _, err := parseFlags([]string{"-h"}); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v", err)
	}
}

func TestRunHelp(t *testing.T) {
	var out strings.Builder
	if err := Run(t.Context(), []string{"--help"}, &out); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"usage: hearth bench", "-direct-tls", "-contacts"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("help lacks %q", s)
		}
	}
}

func TestPickMech(t *testing.T) {
	tests := []struct {
		offered     []string
		force, want string
	}{
		{[]string{"PLAIN", "SCRAM-SHA-1", "SCRAM-SHA-256", "SCRAM-SHA-256-PLUS"}, "", "SCRAM-SHA-256"},
		{[]string{"PLAIN", "SCRAM-SHA-1"}, "", "SCRAM-SHA-1"},
		{[]string{"plain"}, "", "PLAIN"},
		{[]string{"SCRAM-SHA-256", "PLAIN"}, "PLAIN", "PLAIN"},
		{[]string{"SCRAM-SHA-256"}, "SCRAM-SHA-1", ""},
		{[]string{"EXTERNAL", "SCRAM-SHA-1-PLUS"}, "", ""},
	}
	for _, tt := range tests {
		if got := pickMech(tt.offered, tt.force); got != tt.want {
			t.Errorf("pickMech(%v, %q) = %q, want %q", tt.offered, tt.force, got, tt.want)
		}
	}
}

func TestShare(t *testing.T) {
	var total int64
	for i := range 3 {
		total += share(10, 3, i)
	}
	if total != 10 || share(10, 3, 0) != 4 || share(10, 3, 2) != 3 {
		t.Errorf("share(10, 3) parts wrong")
	}
	if share(0, 3, 1) != 0 {
		t.Error("unlimited is not 0")
	}
	if share(2, 3, 2) != -1 {
		t.Error("a pair with nothing to send is not -1")
	}
}

func TestBitset(t *testing.T) {
	var b bitset
	for _, i := range []int64{0, 63, 64, 1000} {
		if !b.add(i) {
			t.Errorf("first add(%d) = false", i)
		}
		if b.add(i) {
			t.Errorf("second add(%d) = true", i)
		}
	}
	if !b.add(1) {
		t.Error("add(1) after others = false")
	}
}

func TestParseVmRSS(t *testing.T) {
	status := "Name:\tprosody\nVmPeak:\t  100 kB\nVmRSS:\t   34996 kB\nThreads:\t1\n"
	if kib, err := parseVmRSS(strings.NewReader(status)); err != nil || kib != 34996 {
		t.Errorf("parseVmRSS = %d, %v", kib, err)
	}
	if _, err := parseVmRSS(strings.NewReader("Name:\tx\n")); err == nil {
		t.Error("no error without VmRSS")
	}
}

func FuzzScanner(f *testing.F) {
	f.Add(header + `<message id='a' from='b'><body>hi &amp; <![CDATA[x<y]]></body></message></stream:stream>`)
	f.Add(header + `<stream:features><mechanisms><mechanism>PLAIN</mechanism></mechanisms></stream:features>`)
	f.Add(`<a b='>'/><!-- c --><?pi?><iq type='get'><ping xmlns='urn:xmpp:ping'/></iq>`)
	f.Fuzz(func(t *testing.T, in string) {
		sc := newScanner(bufio.NewReaderSize(strings.NewReader(in), 16), 4096)
		for range 100 {
			_, el, err := sc.next()
			if err != nil {
				return
			}
			if len(el) > 4096+16 {
				t.Fatalf("element of %d bytes exceeds the limit", len(el))
			}
			attrString(el, "id")
			childText(el, "body")
			hasChild(el, "bind")
			rootText(el)
			errorCondition(el)
			childNS(el)
			parseSeq(el, "t")
		}
	})
}

func TestSASLData(t *testing.T) {
	tests := []struct {
		in   string
		want string
		bad  bool
	}{
		{"", "", false},
		{"=", "", false},
		{" cj1hYmM= \n", "r=abc", false},
		{"!!", "", true},
	}
	for _, tt := range tests {
		got, err := saslData([]byte(tt.in))
		if (err != nil) != tt.bad || string(got) != tt.want {
			t.Errorf("saslData(%q) = %q, %v", tt.in, got, err)
		}
	}
	if got := string(appendSASLData(nil, nil)); got != "=" {
		t.Errorf("empty payload encodes as %q, want =", got)
	}
	if got := string(appendSASLData(nil, []byte("r=abc"))); got != "cj1hYmM=" {
		t.Errorf("payload encodes as %q", got)
	}
}
