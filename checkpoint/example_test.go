package checkpoint

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "weir-checkpoint-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	store, err := OpenDirStore(filepath.Join(dir, "checkpoints"))
	if err != nil {
		fmt.Println(err)
		return
	}
	ledger, err := OpenDirLedger(filepath.Join(dir, "ledger"))
	if err != nil {
		fmt.Println(err)
		return
	}

	// One epoch of region 0: every PE saves, then the epoch commits and older epochs are retired.
	for epoch := uint64(1); epoch <= 3; epoch++ {
		for _, pe := range []string{"src", "map[0]"} {
			k := Key{Job: "squares-3f2a", Region: 0, Epoch: epoch, PE: pe}
			if err := store.Save(ctx, k, fmt.Appendf(nil, "%s@%d", pe, epoch)); err != nil {
				fmt.Println(err)
				return
			}
		}
		if err := ledger.Commit(ctx, "squares-3f2a", 0, epoch); err != nil {
			fmt.Println(err)
			return
		}
		if err := store.Retire(ctx, "squares-3f2a", 0, epoch); err != nil {
			fmt.Println(err)
			return
		}
	}

	// Reset: load the state of the last committed epoch.
	epoch, err := ledger.Committed(ctx, "squares-3f2a", 0)
	if err != nil {
		fmt.Println(err)
		return
	}
	state, err := store.Load(ctx, Key{Job: "squares-3f2a", Region: 0, Epoch: epoch, PE: "map[0]"})
	if err != nil {
		fmt.Println(err)
		return
	}
	epochs, _ := store.Epochs(ctx, "squares-3f2a", 0)
	fmt.Printf("committed %d, state %q, kept epochs %v\n", epoch, state, epochs)
	// Output: committed 3, state "map[0]@3", kept epochs [3]
}
