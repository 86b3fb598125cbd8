package transport

import (
	"fmt"

	"github.com/weirstream/weir/flow"
)

// sendSplit sends a batch whose encoding exceeds MaxFrame as several Data frames of consecutive items, the
// control item on the last one only. The transport sees only bytes and cannot tell where one item ends, so
// it decodes the batch with flow's own machinery (a scratch edge and inbox), emits the items into an outbox
// whose link makes parts of the size that should fit, and sends each part (splitting again any part that
// still does not fit: items vary in size). It costs a decode and a re-encode, paid only by oversized batches.
func (snd *sender) sendSplit(h dataHeader, items []byte, abort <-chan struct{}) bool {
	maxFrame := snd.s.o.MaxFrame
	if h.count <= 1 {
		snd.fail(fmt.Errorf("stream %s: a tuple of %d encoded bytes exceeds the largest frame (%d bytes)", snd.key, len(items), maxFrame))
		return false
	}
	// Items per part, from the average encoded size; fewer than all, or the split would not progress.
	per := int(int64(h.count) * int64(maxFrame-maxDataHeader) / int64(len(items)))
	per = min(max(per, 1), h.count/2)

	w := snd.t.Wire()
	edge := snd.t.NewEdge(1, h.count)
	var halt flow.Halt
	link := w.NewLink(func(gen uint64, ctl flow.Control, count int, part []byte, abort <-chan struct{}) bool {
		ph := dataHeader{gen: gen, ctl: ctl, count: count}
		if dataHeaderLen(ph)+len(part) > maxFrame {
			return snd.sendSplit(ph, part, abort)
		}
		return snd.sendFrame(ph, part, abort)
	}, per, snd.fail)
	out, err := snd.t.NewOutbox(link, &halt, abort)
	if err != nil {
		snd.fail(fmt.Errorf("stream %s: split a batch: %w", snd.key, err))
		return false
	}
	in, err := snd.t.NewInbox([]flow.AnyEdge{edge}, out.Func(), &halt, nil)
	if err != nil {
		snd.fail(fmt.Errorf("stream %s: split a batch: %w", snd.key, err))
		return false
	}
	// The edge is empty and holds one batch, so this never blocks.
	if ok, err := w.Deliver(edge, h.gen, flow.Control{}, h.count, items, nil); err != nil || !ok {
		snd.fail(fmt.Errorf("stream %s: decode a batch to split it: %v", snd.key, err))
		return false
	}
	out.SetGen(h.gen)
	in.Poll()
	if h.ctl.Kind == flow.CtlNone {
		out.Flush()
	} else {
		out.SendControl(h.ctl)
	}
	return !halt.IsSet()
}
