package transport

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"math"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/weirstream/weir/flow"
)

func TestFrameRoundTrips(t *testing.T) {
	var b []byte
	h := hello{version: protocolVersion, key: StreamKey{Job: "jöb", Link: 12345}, typ: "main.Reading"}
	b = appendFrame(b, frameHello, appendHello(nil, h))
	dh := dataHeader{gen: math.MaxUint64, ctl: flow.Control{Kind: flow.CtlFinal, Epoch: 1 << 40}, count: 3}
	if got := len(appendDataHeader(nil, dh)); got != dataHeaderLen(dh) || got > maxDataHeader {
		t.Fatalf("data header of %d bytes, dataHeaderLen says %d", got, dataHeaderLen(dh))
	}
	b = appendFrame(b, frameData, append(appendDataHeader(nil, dh), 1, 2, 3))
	b = appendFrame(b, frameCredit, appendCount(nil, 7))
	b = appendFrame(b, frameBye, nil)

	r := bufio.NewReader(bytes.NewReader(b))
	kind, p, err := readFrame(r, 1<<10, nil)
	if err != nil || kind != frameHello {
		t.Fatal(kind, err)
	}
	if got, err := parseHello(p); err != nil || got != h {
		t.Fatalf("hello %+v, %v", got, err)
	}
	kind, p, err = readFrame(r, 1<<10, nil)
	if err != nil || kind != frameData {
		t.Fatal(kind, err)
	}
	if got, items, err := parseData(p); err != nil || got != dh || !bytes.Equal(items, []byte{1, 2, 3}) {
		t.Fatalf("data %+v %v, %v", got, items, err)
	}
	kind, p, err = readFrame(r, 1<<10, nil)
	if n, err2 := parseCount("credit", p); err != nil || kind != frameCredit || n != 7 || err2 != nil {
		t.Fatal(kind, n, err, err2)
	}
	if kind, p, err = readFrame(r, 1<<10, nil); err != nil || kind != frameBye || len(p) != 0 {
		t.Fatal(kind, p, err)
	}
	if _, _, err = readFrame(r, 1<<10, nil); err != io.EOF {
		t.Fatalf("at the end: %v", err)
	}
}

func TestFrameReaderRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"overlong length", bytes.Repeat([]byte{0x80}, 10), errMalformed},
		{"too large", append(appendFrameHeader(nil, frameData, 1<<30), 0), errFrameTooLarge},
		{"truncated length", []byte{0x80}, io.ErrUnexpectedEOF},
		{"no kind", []byte{3}, io.ErrUnexpectedEOF},
		{"short payload", []byte{3, 'D', 1}, io.ErrUnexpectedEOF},
	} {
		_, _, err := readFrame(bufio.NewReader(bytes.NewReader(tc.in)), 1<<20, nil)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	for _, p := range [][]byte{{}, {0}, {0x80}, {1, 2}} {
		if _, err := parseCount("credit", p); err == nil {
			t.Errorf("credit %v accepted", p)
		}
	}
	if _, _, err := parseData([]byte{0, 0, 0, 5, 1}); err == nil {
		t.Error("a count above the payload was accepted")
	}
	if got := safeText(strings.Repeat("é", maxErrorText) + "\xff"); len(got) > maxErrorText+3 || !strings.HasPrefix(got, "é") {
		t.Errorf("safeText: %q", got[:10])
	}
}

// FuzzFrameReader feeds arbitrary bytes to the frame reader and every payload parser: none may panic, no
// payload may exceed the limit, and whatever parses re-encodes to an equal value.
func FuzzFrameReader(f *testing.F) {
	f.Add(appendFrame(nil, frameHello, appendHello(nil, hello{version: 1, key: StreamKey{Job: "j", Link: 2}, typ: "int"})))
	f.Add(appendFrame(nil, frameData, append(appendDataHeader(nil, dataHeader{gen: 3, ctl: flow.Control{Kind: flow.CtlMarker, Epoch: 4}, count: 2}), 2, 4)))
	f.Add(appendFrame(appendFrame(nil, frameCredit, []byte{3}), frameAccept, []byte{8}))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 'D'})
	f.Add([]byte{0, 'B', 5, 'E', 'o', 'o', 'p', 's', '!'})
	const limit = 1 << 12
	f.Fuzz(func(t *testing.T, in []byte) {
		r := bufio.NewReader(bytes.NewReader(in))
		buf := make([]byte, 0, 64)
		for {
			kind, p, err := readFrame(r, limit, buf)
			if err != nil {
				return
			}
			if len(p) > limit {
				t.Fatalf("payload of %d bytes above the limit", len(p))
			}
			if h, err := parseHello(p); err == nil {
				if h2, err := parseHello(appendHello(nil, h)); err != nil || h2 != h {
					t.Fatalf("hello %+v re-parsed as %+v, %v", h, h2, err)
				}
			}
			if h, items, err := parseData(p); err == nil {
				if h.count > len(items) {
					t.Fatalf("count %d for %d bytes", h.count, len(items))
				}
				q := append(appendDataHeader(nil, h), items...)
				if h2, items2, err := parseData(q); err != nil || h2 != h || !bytes.Equal(items2, items) {
					t.Fatalf("data %+v re-parsed as %+v, %v", h, h2, err)
				}
				// The receiver hands these to the Wire: it must refuse, not panic.
				_, _ = flow.TypeOf[int]().Wire().Deliver(flow.NewEdge[int](1, 4), h.gen, h.ctl, h.count, items, nil)
				_, _ = flow.TypeOf[any]().Wire().Deliver(flow.NewEdge[any](1, 4), h.gen, h.ctl, h.count, items, nil)
			}
			if n, err := parseCount("credit", p); err == nil && (n < 1 || n > maxCredits) {
				t.Fatalf("credit %d accepted", n)
			}
			_ = safeText(string(p))
			_ = kind
		}
	})
}

// FuzzStreamReceiver runs the whole receiving side (handshake, read-ahead, delivery, credits) on arbitrary
// bytes from a connection: it must neither panic nor hang, and must deliver only well-formed batches.
func FuzzStreamReceiver(f *testing.F) {
	key := StreamKey{Job: "j", Link: 1}
	ok := helloFrame(key, "int")
	f.Add(ok)
	f.Add(append(append([]byte(nil), ok...), dataFrameBytes(2, flow.Control{Kind: flow.CtlMarker, Epoch: 1}, 2, []byte{2, 4})...))
	f.Add(append(append([]byte(nil), ok...), appendFrame(dataFrameBytes(0, flow.Control{}, 1, []byte{6}), frameBye, nil)...))
	f.Add(append(append([]byte(nil), ok...), 0xff, 0xff, 0xff, 0xff, 'D'))
	f.Add(helloFrame(StreamKey{Job: "x", Link: 1}, "int"))

	m := NewMux(listen(f), nil)
	defer m.Close()
	s := NewStreams(m, StreamOptions{MaxFrame: 1 << 12, ExpectWait: time.Millisecond, DialTimeout: time.Second})
	defer s.Close()
	edge := flow.NewEdge[int](64, 16)
	defer s.Expect(key, edge)()

	f.Fuzz(func(t *testing.T, in []byte) {
		client, server := net.Pipe()
		c := &inConn{s: s, conn: server, peer: "fuzz", ended: make(chan struct{}), done: make(chan struct{})}
		s.mu.Lock()
		s.incoming[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.serve(c)
		go func() {
			client.Write(in)
			client.Close()
		}()
		go io.Copy(io.Discard, client)
		select {
		case <-c.done:
		case <-time.After(10 * time.Second):
			t.Fatal("the receiver hung")
		}
		for {
			b, ok := edge.TryReceive()
			if !ok {
				break
			}
			if b.Ctl.Kind > flow.CtlFinal {
				t.Fatalf("delivered control %v", b.Ctl)
			}
		}
	})
}
