package standalone

import (
	"context"
	"fmt"

	"github.com/weirstream/weir/region"
)

// reporter routes PE reports to the coordinators and to the job.
type reporter Job

func (r *reporter) coord(i int) *region.Coordinator { return r.coords[i] }

func (r *reporter) Drained(reg int, pe string, epoch, gen uint64, ref string) {
	r.coord(reg).Drained(pe, epoch, gen, ref)
}
func (r *reporter) Exhausted(reg int, pe string, gen uint64) { r.coord(reg).Exhausted(pe, gen) }
func (r *reporter) ResetDone(reg int, pe string, gen uint64) { r.coord(reg).ResetDone(pe, gen) }
func (r *reporter) Failed(reg int, pe string, gen uint64, err error) {
	r.log.Warn("operator failed", "region", reg, "pe", pe, "generation", gen, "err", err)
	r.coord(reg).Failed(pe, gen, err)
}
func (r *reporter) Trigger(reg int)    { r.coord(reg).Trigger() }
func (r *reporter) Finished(pe string) {}
func (r *reporter) Crashed(pe string, err error) {
	if p, ok := r.ph.PEByID(pe); ok && p.Region >= 0 {
		(*Job)(r).fail(fmt.Errorf("PE %s of consistent region %d failed beyond what a reset repairs: %w", pe, p.Region, err))
		return
	}
	(*Job)(r).fail(fmt.Errorf("PE %s failed outside any consistent region, so nothing can replay its input: %w", pe, err))
}

// actuator carries one region's commands to the executor.
type actuator struct {
	j *Job
	r int
}

func (a *actuator) Drain(epoch, gen uint64, final bool) { a.j.x.Drain(a.r, epoch, gen, final) }
func (a *actuator) Reset(gen, epoch uint64)             { a.j.x.Reset(a.r, gen, epoch) }
func (a *actuator) Resume(gen uint64)                   { a.j.x.Resume(a.r, gen) }
func (a *actuator) Committed(gen, epoch uint64, final bool) {
	a.j.x.Committed(a.r, gen, epoch, final)
	if err := a.j.store.Retire(context.Background(), a.j.o.JobID, a.r, epoch); err != nil {
		a.j.log.Warn("retire checkpoints", "region", a.r, "below", epoch, "err", err)
	}
}

// ledger records one region's commits in the job's ledger.
type ledger struct {
	j *Job
	r int
}

func (l *ledger) Commit(epoch, gen uint64, refs map[string]string) error {
	return l.j.ledger.Commit(context.Background(), l.j.o.JobID, l.r, epoch)
}

// NewGeneration and Begin need no record in one process: generations and epoch numbers live as long as the
// coordinator that makes them.
func (l *ledger) NewGeneration(gen uint64, attempts int, reason string) error { return nil }

func (l *ledger) Begin(epoch, gen uint64) error { return nil }
