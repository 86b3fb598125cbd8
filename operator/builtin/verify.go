package builtin

import (
	"fmt"

	"github.com/weirstream/weir/operator"
	"github.com/weirstream/weir/value"
)

// verifyOrder fails unless the tuples are 0, 1, 2, … in order: a test sink for exactly-once pipelines.
// Its expectation is its state, so after a reset it expects what the replay will bring.
type verifyOrder struct {
	Expect int
}

func (v *verifyOrder) Consume(t any) error {
	if n, ok := value.Int(t); !ok || n != v.Expect {
		got := preview(t)
		if !ok {
			got += " (" + value.TypeName(t) + ")"
		}
		return fmt.Errorf("verify_order: expected %d, got %s", v.Expect, got)
	}
	v.Expect++
	return nil
}

func buildVerifyOrder(operator.Config) (operator.Factory, error) {
	return operator.ConsumerOf[any](&verifyOrder{}), nil
}
