package acmetest

import (
	"net"
	"testing"

	"github.com/miekg/dns"
)

// startResolver runs a DNS server on 127.0.0.1 over TCP, the only way
// Pebble's validation authority asks a resolver it is given, until the
// test ends, and returns its address.
func startResolver(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("acmetest: DNS listener: %v", err)
	}
	started := make(chan struct{})
	srv := &dns.Server{
		Listener:          ln,
		Handler:           dns.HandlerFunc(answerLoopback),
		NotifyStartedFunc: func() { close(started) },
	}
	done := make(chan error, 1)
	go func() { done <- srv.ActivateAndServe() }()
	select {
	case <-started:
	case err := <-done:
		t.Fatalf("acmetest: DNS server: %v", err)
	}
	t.Cleanup(func() {
		srv.Shutdown()
		<-done
	})
	return ln.Addr().String()
}

// answerLoopback says that every name is 127.0.0.1: an A record for each
// A question, and no other records. An AAAA record would send the
// validation authority to ::1, where the client under test does not listen.
func answerLoopback(w dns.ResponseWriter, query *dns.Msg) {
	reply := new(dns.Msg)
	reply.SetReply(query)
	for _, q := range query.Question {
		if q.Qtype != dns.TypeA || q.Qclass != dns.ClassINET {
			continue
		}
		reply.Answer = append(reply.Answer, &dns.A{
			Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET},
			A:   net.IPv4(127, 0, 0, 1),
		})
	}
	w.WriteMsg(reply)
}
