package demo

import (
	"net"
	"testing"
	"time"
)

func TestRecorderRelaysAndRecords(t *testing.T) {
	sink, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	r, err := NewRecorder(sink.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	c, err := net.Dial("udp", r.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pkts := []string{
		"{\"format\":\"json\",\"version\":1}\n{\"trace_id\":\"1-5f000000-000000000000000000000001\",\"id\":\"a000000000000001\",\"name\":\"x\"}",
		"not a datagram",
	}
	for _, p := range pkts {
		if _, err := c.Write([]byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 65536)
	for i, want := range pkts {
		_ = sink.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, _, err := sink.ReadFromUDP(buf)
		if err != nil {
			t.Fatalf("datagram %d not relayed: %v", i, err)
		}
		if string(buf[:n]) != want {
			t.Fatalf("datagram %d relayed as %q", i, buf[:n])
		}
	}
	docs := r.Documents()
	if len(docs) != 1 || len(docs["1-5f000000-000000000000000000000001"]) != 1 {
		t.Fatalf("recorded %v", docs)
	}
}
