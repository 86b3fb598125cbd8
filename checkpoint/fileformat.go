package checkpoint

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// On-disk format shared by checkpoints and ledger records:
//
//	[0:8)   magic "WEIRCKP1" (the digit versions the format)
//	[8:12)  CRC32-C (Castagnoli) of the payload, little endian
//	[12:20) payload length, little endian
//	[20:)   payload
//
// The explicit length catches truncation even when the truncated payload happens to match its checksum
// (e.g. an empty prefix), and the magic catches files that are not ours at all.
const (
	fileMagic = "WEIRCKP1"
	headerLen = 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func makeHeader(payload []byte) [headerLen]byte {
	var h [headerLen]byte
	copy(h[:8], fileMagic)
	binary.LittleEndian.PutUint32(h[8:12], crc32.Checksum(payload, castagnoli))
	binary.LittleEndian.PutUint64(h[12:20], uint64(len(payload)))
	return h
}

// decodeFile returns the payload of a whole file, aliasing b. Errors wrap ErrCorrupt.
func decodeFile(b []byte) ([]byte, error) {
	if len(b) < headerLen {
		return nil, fmt.Errorf("%w: %d bytes, shorter than the %d-byte header", ErrCorrupt, len(b), headerLen)
	}
	if !bytes.Equal(b[:8], []byte(fileMagic)) {
		return nil, fmt.Errorf("%w: bad magic %q", ErrCorrupt, b[:8])
	}
	want := binary.LittleEndian.Uint32(b[8:12])
	n := binary.LittleEndian.Uint64(b[12:20])
	payload := b[headerLen:]
	if n != uint64(len(payload)) {
		return nil, fmt.Errorf("%w: header says %d payload bytes, file has %d", ErrCorrupt, n, len(payload))
	}
	if got := crc32.Checksum(payload, castagnoli); got != want {
		return nil, fmt.Errorf("%w: checksum %08x, header says %08x", ErrCorrupt, got, want)
	}
	return payload, nil
}
