package transport

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weirstream/weir/flow"
)

func frameBytes(kind byte, payload []byte) []byte { return appendFrame(nil, kind, payload) }

func helloFrame(key StreamKey, typ string) []byte {
	return frameBytes(frameHello, appendHello(nil, hello{version: protocolVersion, key: key, typ: typ}))
}

func dataFrameBytes(gen uint64, ctl flow.Control, count int, items []byte) []byte {
	p := appendDataHeader(nil, dataHeader{gen: gen, ctl: ctl, count: count})
	return frameBytes(frameData, append(p, items...))
}

// replyFrames parses what a server sent back.
func replyFrames(t *testing.T, b []byte) (kinds string, errText string) {
	t.Helper()
	r := bufio.NewReader(bytes.NewReader(b))
	for {
		kind, p, err := readFrame(r, maxControlFrame, nil)
		if err != nil {
			return kinds, errText
		}
		kinds += string(kind)
		if kind == frameError {
			errText = string(p)
		}
	}
}

// TestStreamHostileInput: each bad connection is closed, answered with an Error frame where the protocol has
// got that far, and logged with its peer and stream, while a good stream keeps flowing and nobody else sees
// a break.
func TestStreamHostileInput(t *testing.T) {
	opts := StreamOptions{MaxFrame: 1 << 20, ExpectWait: 300 * time.Millisecond, DialTimeout: 2 * time.Second}
	recv, send := newNode(t, opts), newNode(t, opts)

	// The good stream, flowing throughout.
	good := StreamKey{Job: "good", Link: 0}
	goodEdge := flow.NewEdge[int](8, 64)
	col := collect(t, goodEdge, nil, true)
	defer recv.st.Expect(good, goodEdge)()
	em := newEmitter(link[int](t, send, good, 64, fixed(recv.addr)))
	var stop atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; !stop.Load() && !em.halt.IsSet(); i++ {
			em.out.Emit(i)
		}
	}()
	defer func() { stop.Store(true); <-done }()
	waitFor(t, 10*time.Second, "the good stream", func() bool { return col.n() > 1000 })

	// Streams that hostile peers claim: registered readers of int.
	for i := 1; i <= 4; i++ {
		defer recv.st.Expect(StreamKey{Job: "victim", Link: i}, flow.NewEdge[int](8, 64))()
	}
	victim := func(i int) StreamKey { return StreamKey{Job: "victim", Link: i} }
	huge := binary.AppendUvarint([]byte{}, 1<<30)

	cases := []struct {
		name   string
		send   [][]byte // written in turn; after the first, each waits for the Accept
		reply  string   // frame kinds expected back
		errHas string   // in the Error frame
		logHas string   // in the log line
		broken *StreamKey
	}{
		{name: "garbage", send: [][]byte{bytes.Repeat([]byte{0xff}, 11)}, reply: "E", errHas: "malformed", logHas: "malformed"},
		{name: "silent", send: [][]byte{nil}, logHas: "i/o timeout"},
		{name: "1 GiB frame", send: [][]byte{append(huge, frameHello)}, reply: "E", errHas: "too large", logHas: "frame too large"},
		{name: "data before hello", send: [][]byte{dataFrameBytes(0, flow.Control{}, 1, []byte{2})}, reply: "E", errHas: "expected a Hello", logHas: "expected a Hello"},
		{name: "bad hello", send: [][]byte{frameBytes(frameHello, []byte{1, 200})}, reply: "E", errHas: "hello", logHas: "malformed"},
		{name: "wrong version", send: [][]byte{frameBytes(frameHello, appendHello(nil, hello{version: 9, key: victim(1), typ: "int"}))}, reply: "E", errHas: "version 9", logHas: "version 9"},
		{name: "unknown key", send: [][]byte{helloFrame(StreamKey{Job: "nobody", Link: 1}, "int")}, reply: "E", errHas: "no reader", logHas: "nobody/1"},
		{name: "type mismatch", send: [][]byte{helloFrame(victim(1), "string")}, reply: "E", errHas: "type mismatch", logHas: "victim/1"},
		{name: "bad items", send: [][]byte{helloFrame(victim(1), "int"), dataFrameBytes(1, flow.Control{}, 3, []byte{0x80, 0x80, 0x80})},
			reply: "AE", errHas: "item", logHas: "victim/1", broken: &StreamKey{Job: "victim", Link: 1}},
		{name: "oversized data", send: [][]byte{helloFrame(victim(2), "int"), append(binary.AppendUvarint(nil, 1<<20+1), frameData)},
			reply: "AE", errHas: "too large", logHas: "victim/2", broken: &StreamKey{Job: "victim", Link: 2}},
		{name: "unexpected frame", send: [][]byte{helloFrame(victim(3), "int"), frameBytes(frameAccept, []byte{1})},
			reply: "AE", errHas: "unexpected frame", logHas: "victim/3", broken: &StreamKey{Job: "victim", Link: 3}},
		{name: "bad control kind", send: [][]byte{helloFrame(victim(4), "int"), dataFrameBytes(1, flow.Control{Kind: 7}, 0, nil)},
			reply: "AE", errHas: "control kind", logHas: "victim/4", broken: &StreamKey{Job: "victim", Link: 4}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := col.n()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c, err := Dial(ctx, recv.addr, KindStream)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.Write(tc.send[0])
			r := bufio.NewReader(c)
			if len(tc.send) > 1 {
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				if kind, _, err := readFrame(r, maxControlFrame, nil); err != nil || kind != frameAccept {
					t.Fatalf("no Accept: %q %v", kind, err)
				}
				for _, b := range tc.send[1:] {
					c.Write(b)
				}
			}
			rest := readUntilClosed(t, &bufConn{c, r}, 5*time.Second)
			kinds, errText := replyFrames(t, rest)
			if len(tc.send) > 1 {
				kinds = "A" + kinds
			}
			if kinds != tc.reply || !strings.Contains(errText, tc.errHas) {
				t.Fatalf("reply %q (error %q), want %q with %q", kinds, errText, tc.reply, tc.errHas)
			}
			t.Logf("answered: %q", errText)
			waitFor(t, 5*time.Second, "the log line", func() bool {
				return recv.log.has(c.LocalAddr().String(), tc.logHas)
			})
			if tc.broken != nil {
				recv.awaitBroken(t, *tc.broken)
			}
			recv.noBroken(t)
			waitFor(t, 10*time.Second, "the good stream to go on", func() bool { return col.n() > before+1000 })
		})
	}
	send.noBroken(t)
}

// bufConn reads through r what c received, so that bytes r buffered are not lost.
type bufConn struct {
	net.Conn
	r *bufio.Reader
}

func (b *bufConn) Read(p []byte) (int, error) { return b.r.Read(p) }
