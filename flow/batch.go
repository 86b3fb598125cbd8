package flow

import "fmt"

// CtlKind says what control item, if any, follows a batch's items.
type CtlKind uint8

const (
	// CtlNone: a data batch.
	CtlNone CtlKind = iota
	// CtlMarker: the checkpoint marker of Epoch. Everything before it belongs to the epoch.
	CtlMarker
	// CtlFinal: the end of the stream. Inside a consistent region it is also the marker of the region's final
	// epoch (Epoch); outside one, Epoch is 0.
	CtlFinal
)

func (k CtlKind) String() string {
	switch k {
	case CtlNone:
		return "none"
	case CtlMarker:
		return "marker"
	case CtlFinal:
		return "final"
	}
	return fmt.Sprintf("ctl(%d)", uint8(k))
}

// Control is an in-band control item.
type Control struct {
	Kind  CtlKind
	Epoch uint64
}

func (c Control) String() string {
	if c.Kind == CtlNone {
		return "none"
	}
	return fmt.Sprintf("%s(%d)", c.Kind, c.Epoch)
}

// Batch is the unit that crosses a PE boundary: items, then an optional control item, all of one generation.
type Batch[T any] struct {
	Gen   uint64
	Items []T
	Ctl   Control
}
