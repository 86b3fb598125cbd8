package api

import "testing"

func TestEventLogKeepsTheLastInOrder(t *testing.T) {
	l := NewEventLog("n1", 3)
	for i := 0; i < 5; i++ {
		l.Add(Event{Kind: EvEpochCommitted, Epoch: uint64(i + 1)})
	}
	got := l.Since(0)
	if len(got) != 3 || got[0].Epoch != 3 || got[2].Epoch != 5 || got[2].Seq != 5 || got[0].Node != "n1" {
		t.Fatalf("got %+v", got)
	}
	if later := l.Since(4); len(later) != 1 || later[0].Epoch != 5 {
		t.Fatalf("since 4: %+v", later)
	}
	var nilLog *EventLog
	nilLog.Add(Event{}) // a node without a log records nothing, and does not crash
}
