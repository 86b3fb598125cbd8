package transport

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/weirstream/weir/flow"
)

// protocolVersion is the stream protocol's version, sent in Hello. A receiver refuses any other.
const protocolVersion = 1

// Frame kinds. They are printable so that a hex dump of a stream reads easily.
const (
	frameHello  byte = 'H'
	frameAccept byte = 'A'
	frameError  byte = 'E'
	frameData   byte = 'D'
	frameCredit byte = 'C'
	// frameBye (sender → receiver, empty) closes a stream on purpose: without it a receiver could not tell
	// a sender that stopped its job from one that crashed (both end in a clean EOF).
	frameBye byte = 'B'
)

const (
	// maxControlFrame bounds the frames of the handshake and the credit channel, whatever MaxFrame says: they
	// carry a few names and numbers, and a peer that has not introduced itself must not make us allocate much.
	maxControlFrame = 64 << 10
	// maxDataHeader is the largest encoding of a Data frame's fields before its items.
	maxDataHeader = 3*binary.MaxVarintLen64 + 1
	// maxCredits bounds the credit a receiver may grant: beyond it a sender would buffer without limit.
	maxCredits = 1 << 16
	// maxErrorText bounds what we send and log of an Error frame's message.
	maxErrorText = 1024
)

var (
	errFrameTooLarge = errors.New("frame too large")
	errMalformed     = errors.New("malformed frame")
)

// readFrame reads one frame: [uvarint payload length][kind][payload]. A length above max is refused before
// anything is allocated. The payload is read into buf when it fits (so control frames reuse one buffer), into
// a fresh slice otherwise. A stream that ends cleanly between frames yields io.EOF; inside a frame,
// io.ErrUnexpectedEOF.
func readFrame(r *bufio.Reader, max int, buf []byte) (kind byte, payload []byte, err error) {
	n, err := readUvarint(r)
	if err != nil {
		return 0, nil, err
	}
	if n > uint64(max) {
		return 0, nil, fmt.Errorf("%w: %d bytes, the limit is %d", errFrameTooLarge, n, max)
	}
	if kind, err = r.ReadByte(); err != nil {
		return 0, nil, unexpectedEOF(err)
	}
	if uint64(cap(buf)) >= n {
		payload = buf[:n]
	} else {
		payload = make([]byte, n)
	}
	if _, err := io.ReadFull(r, payload); err != nil {
		return 0, nil, unexpectedEOF(err)
	}
	return kind, payload, nil
}

// readUvarint is binary.ReadUvarint, except that an overlong varint is errMalformed while the reader's own
// errors pass through unchanged (a closed connection is not the peer's fault).
func readUvarint(r io.ByteReader) (uint64, error) {
	var x uint64
	var s uint
	for i := range binary.MaxVarintLen64 {
		b, err := r.ReadByte()
		if err != nil {
			if i > 0 {
				return 0, unexpectedEOF(err)
			}
			return 0, err
		}
		if b < 0x80 {
			if i == binary.MaxVarintLen64-1 && b > 1 {
				break
			}
			return x | uint64(b)<<s, nil
		}
		x |= uint64(b&0x7f) << s
		s += 7
	}
	return 0, fmt.Errorf("%w: frame length overflows 64 bits", errMalformed)
}

func unexpectedEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// appendFrameHeader appends the length and kind of a frame whose payload is n bytes long.
func appendFrameHeader(dst []byte, kind byte, n int) []byte {
	return append(binary.AppendUvarint(dst, uint64(n)), kind)
}

// appendFrame appends a whole frame.
func appendFrame(dst []byte, kind byte, payload []byte) []byte {
	return append(appendFrameHeader(dst, kind, len(payload)), payload...)
}

// hello is the sender's introduction: which stream it feeds and with what tuple type.
type hello struct {
	version uint64
	key     StreamKey
	typ     string
}

func appendHello(dst []byte, h hello) []byte {
	dst = binary.AppendUvarint(dst, h.version)
	dst = appendString(dst, h.key.Job)
	dst = binary.AppendUvarint(dst, uint64(h.key.Link))
	return appendString(dst, h.typ)
}

func parseHello(p []byte) (hello, error) {
	var h hello
	d := decoder{p: p}
	h.version = d.uvarint()
	h.key.Job = d.string()
	link := d.uvarint()
	h.typ = d.string()
	if d.err == nil && link > uint64(maxLinkIndex) {
		d.fail("link index %d out of range", link)
	}
	h.key.Link = int(link)
	if err := d.end(); err != nil {
		return hello{}, fmt.Errorf("hello: %w", err)
	}
	return h, nil
}

// maxLinkIndex keeps link indexes within an int32, whatever the platform's int.
const maxLinkIndex = 1<<31 - 1

// dataHeader is a Data frame without its items.
type dataHeader struct {
	gen   uint64
	ctl   flow.Control
	count int
}

func appendDataHeader(dst []byte, h dataHeader) []byte {
	dst = binary.AppendUvarint(dst, h.gen)
	dst = append(dst, byte(h.ctl.Kind))
	dst = binary.AppendUvarint(dst, h.ctl.Epoch)
	return binary.AppendUvarint(dst, uint64(h.count))
}

// dataHeaderLen is len(appendDataHeader(nil, h)), without building it.
func dataHeaderLen(h dataHeader) int {
	return uvarintLen(h.gen) + 1 + uvarintLen(h.ctl.Epoch) + uvarintLen(uint64(h.count))
}

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

// parseData splits a Data payload into its header and items (a subslice of p). The item count is checked
// only against the payload's size here (every encoding takes at least a byte); the Wire decodes the items.
func parseData(p []byte) (dataHeader, []byte, error) {
	var h dataHeader
	d := decoder{p: p}
	h.gen = d.uvarint()
	ctl := d.byte()
	h.ctl.Epoch = d.uvarint()
	count := d.uvarint()
	if d.err == nil && ctl > byte(flow.CtlFinal) {
		d.fail("unknown control kind %d", ctl)
	}
	if d.err == nil && count > uint64(len(p)-d.pos) {
		d.fail("%d items in %d bytes", count, len(p)-d.pos)
	}
	if d.err != nil {
		return dataHeader{}, nil, fmt.Errorf("data: %w", d.err)
	}
	h.ctl.Kind = flow.CtlKind(ctl)
	h.count = int(count)
	return h, p[d.pos:], nil
}

// parseCount parses the payload of Accept and Credit: one positive count, at most maxCredits.
func parseCount(what string, p []byte) (int, error) {
	d := decoder{p: p}
	n := d.uvarint()
	if d.err == nil && (n == 0 || n > maxCredits) {
		d.fail("%d credits", n)
	}
	if err := d.end(); err != nil {
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	return int(n), nil
}

func appendCount(dst []byte, n int) []byte { return binary.AppendUvarint(dst, uint64(n)) }

// safeText makes a peer's message safe to log, or ours safe to send: valid UTF-8, at most maxErrorText bytes.
func safeText(s string) string {
	if len(s) > maxErrorText {
		s = s[:maxErrorText]
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

func appendString(dst []byte, s string) []byte {
	return append(binary.AppendUvarint(dst, uint64(len(s))), s...)
}

// decoder reads the fields of a payload. The first error sticks; later reads return zero values.
type decoder struct {
	p   []byte
	pos int
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: "+format, append([]any{errMalformed}, args...)...)
	}
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	x, n := binary.Uvarint(d.p[d.pos:])
	if n <= 0 {
		d.fail("bad varint at offset %d", d.pos)
		return 0
	}
	d.pos += n
	return x
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if d.pos >= len(d.p) {
		d.fail("truncated at offset %d", d.pos)
		return 0
	}
	b := d.p[d.pos]
	d.pos++
	return b
}

func (d *decoder) string() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.p)-d.pos) {
		d.fail("string of %d bytes with %d left", n, len(d.p)-d.pos)
		return ""
	}
	s := string(d.p[d.pos : d.pos+int(n)])
	d.pos += int(n)
	return s
}

// end reports the first error, or trailing bytes.
func (d *decoder) end() error {
	if d.err == nil && d.pos != len(d.p) {
		d.fail("%d trailing bytes", len(d.p)-d.pos)
	}
	return d.err
}
