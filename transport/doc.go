// Package transport is the wire between the nodes of a Weir cluster: one TCP port per node that carries Raft
// and the tuple streams between PEs.
//
// # Mux
//
// A Mux serves one listener. Every connection begins with one byte, its kind: KindRaft ('R') or KindStream
// ('S'). The Mux hands the rest of the connection to that kind's virtual listener. A connection that sends an
// unknown kind, or nothing within the handshake timeout (5 s by default), is closed and logged; it holds up
// nobody else. NewRaftLayer adapts the KindRaft listener to raft.StreamLayer for raft.NetworkTransport.
//
// # Streams
//
// Each stream — link Link of job Job, from a writer PE on one node to its reader PE on another — has its own
// TCP connection, dialled by the writer's node. After the kind byte, both directions carry frames:
//
//	frame   = uvarint(len(payload)) kind payload
//	Hello   'H'  uvarint version, string job, uvarint link, string type     sender → receiver, first frame
//	Accept  'A'  uvarint credits                                           receiver → sender
//	Error   'E'  message (UTF-8, the rest of the payload)                  receiver → sender, then close
//	Data    'D'  uvarint gen, byte ctl kind, uvarint epoch, uvarint count, items
//	                                                                       sender → receiver
//	Credit  'C'  uvarint n                                                 receiver → sender
//	Bye     'B'  (empty)                                                   sender → receiver, then close
//	string  = uvarint(len) bytes
//
// The receiver answers a Hello with Accept once a reader for the stream is registered (Streams.Expect; it
// waits up to ExpectWait for one, since the reader PE may start after its writer dialled) and the Hello's type
// (flow.Type.String) matches the reader edge's; otherwise with Error, and closes. Version is 1.
//
// A Data frame is one batch: its generation, its control item (flow.CtlKind and epoch; CtlNone for a plain
// data batch), its item count, and the items encoded by the type's flow.Wire. A batch whose frame would
// exceed MaxFrame (16 MiB by default) is sent as several Data frames of consecutive items, all of the batch's
// generation, the control item only on the last; the receiver delivers each as a batch of its own, which the
// reader's inbox cannot tell from the original. A single item that alone exceeds MaxFrame fails the sender's
// PE.
//
// Flow control is by credit, counted in frames: Accept grants Credits (8 by default); the sender spends one
// per Data frame and waits while it has none; the receiver returns credit for a frame only after delivering
// it into the reader's edge, which blocks while the edge is full. So a slow reader slows its writers, at most
// Credits frames are in flight per stream, and no buffer grows without bound. The receiver reads those frames
// ahead of delivery (so it holds at most Credits frames, Credits × MaxFrame bytes in the worst case), which
// lets it notice a break even while its edge is full. Credit beyond the grant, or frames beyond the credit,
// are protocol violations.
//
// Any malformed, oversized or unexpected frame closes that connection (with an Error frame when the receiver
// detects it) and is logged with the peer and the stream; other connections are unaffected.
//
// # Breaks
//
// When an established stream's connection breaks (a read or write error, EOF, an Error frame), each side that
// notices calls OnBroken once for that connection: the fast failure signal, which the agent turns into a
// failure of the PE's consistent region. The sender's Send drops the batch in hand and returns false (its
// PE halts until the reset); whether any of that batch arrived is unknown, and it does not matter, because
// the region resets to its last committed epoch and replays, and generations make the receiver drop what the
// older generation still had in flight. The next Send re-dials, resolving the reader's address again, with
// a capped backoff after failures. A receiver that gets a new connection for a stream stops the old one
// first, so batches of two connections never interleave, and reports the old one broken if it had not noticed
// yet: a sender dials again only after a break.
//
// A sender that closes a stream on purpose (Streams.CloseJob, Close, a replaced Link) sends Bye first: a
// clean EOF alone could as well be a crashed process, so without Bye the receiver would report a break. A
// receiver that closes on purpose (a cancelled or replaced Expect) just closes: for the sender that is a
// break, since its reader is gone.
//
// An abort (a reset or stop of the sending PE) that interrupts Send in the middle of writing a large frame
// leaves a truncated frame: the sender closes the connection without OnBroken (its own region is resetting
// anyway); the receiver sees the break and reports it.
//
// PEs on the same node never use Streams: the agent connects them with local edges.
package transport
