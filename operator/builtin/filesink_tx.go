package builtin

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/weirstream/weir/operator"
	"github.com/weirstream/weir/value"
)

// txSink is the exactly-once file sink: a two-phase commit over files (DESIGN.md, "Transactional sink").
//
// Published output is every file of the directory whose name does not begin with "." or "_". The tuples of
// an epoch first go to a partial file in <dir>/_staging, named after the channel and a token unique to this
// instance's life, so that two instances of one channel (a zombie and its replacement) never write the same
// file. Checkpoint(e) syncs the partial file and renames it to a staged file of epoch e, and records it in
// the state. RegionCheckpointed(e) — the region committed e — publishes every recorded epoch <= e: a hard
// link to <dir>/part-<channel>-<e, 20 digits>.jsonl (which never replaces an existing file, so a repeated or
// competing publish is harmless), a sync of the directory, then removal of every staged copy of the epoch.
// Restore(e) first publishes what the restored state recorded (its RegionCheckpointed may have been lost),
// then deletes the channel's partial files and its staged files of epochs up to e; staged files of later
// epochs stay (see removeStaging), and are never published unless a committed state names them. An epoch
// without tuples makes no file.
type txSink struct {
	sinkBase
	dir, staging string
	channel      string
	token        string
	seq          int

	cur     *os.File // partial file of the epoch in progress, nil until its first tuple
	curName string
	w       *bufio.Writer
	buf     []byte

	staged []stagedEpoch // checkpointed, not yet published
}

type stagedEpoch struct {
	epoch uint64
	name  string // in the staging directory
}

const stagingDir = "_staging"

func newTxSink(dir, channel string) (*txSink, error) {
	var tok [6]byte
	if _, err := rand.Read(tok[:]); err != nil {
		return nil, fmt.Errorf("file sink: token: %w", err)
	}
	return &txSink{
		dir: dir, staging: filepath.Join(dir, stagingDir), channel: channel, token: hex.EncodeToString(tok[:]),
	}, nil
}

func (s *txSink) prefix() string { return "part-" + s.channel + "-" }

func (s *txSink) stagedName(epoch uint64) string {
	return fmt.Sprintf("%s%020d-%s.staged", s.prefix(), epoch, s.token)
}

func (s *txSink) publishedName(epoch uint64) string {
	return fmt.Sprintf("%s%020d.jsonl", s.prefix(), epoch)
}

func (s *txSink) errorf(format string, args ...any) error {
	return fmt.Errorf("file sink %s (channel %s): "+format, append([]any{s.dir, s.channel}, args...)...)
}

func (s *txSink) Open(operator.Context) error {
	if err := os.MkdirAll(s.staging, 0o755); err != nil {
		return s.errorf("%w", err)
	}
	return nil
}

func (s *txSink) Input() any {
	return func(t any) {
		s.g.Cur = s.id
		if s.cur == nil {
			if err := s.startPartial(); err != nil {
				s.fail(err)
				return
			}
		}
		if err := writeLine(s.w, &s.buf, t); err != nil {
			s.fail(s.errorf("%w", err))
		}
	}
}

func (s *txSink) startPartial() error {
	s.seq++
	name := fmt.Sprintf("%s%s-%d.partial", s.prefix(), s.token, s.seq)
	f, err := os.OpenFile(filepath.Join(s.staging, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return s.errorf("%w", err)
	}
	s.cur, s.curName = f, name
	if s.w == nil {
		s.w = bufio.NewWriterSize(f, 64<<10)
	} else {
		s.w.Reset(f)
	}
	return nil
}

func (s *txSink) flush() error {
	if s.cur == nil {
		return nil
	}
	if err := s.w.Flush(); err != nil {
		return s.errorf("%w", err)
	}
	return nil
}

func (s *txSink) Drain() error  { return s.flush() }
func (s *txSink) Finish() error { return s.flush() }

// Checkpoint stages the epoch's tuples durably and returns the list of staged epochs.
func (s *txSink) Checkpoint(epoch uint64) ([]byte, error) {
	if n := len(s.staged); n > 0 && s.staged[n-1].epoch >= epoch {
		return nil, s.errorf("checkpoint of epoch %d after epoch %d", epoch, s.staged[n-1].epoch)
	}
	if s.cur != nil {
		if err := s.stage(epoch); err != nil {
			return nil, err
		}
	}
	return s.encodeState()
}

func (s *txSink) stage(epoch uint64) error {
	err := s.w.Flush()
	if err == nil {
		err = s.cur.Sync()
	}
	if cerr := s.cur.Close(); err == nil {
		err = cerr
	}
	s.cur = nil
	if err != nil {
		return s.errorf("stage epoch %d: %w", epoch, err)
	}
	name := s.stagedName(epoch)
	// If another instance of this channel reset the region meanwhile, the partial file is gone: this
	// instance is a zombie and fails here.
	if err := os.Rename(filepath.Join(s.staging, s.curName), filepath.Join(s.staging, name)); err != nil {
		return s.errorf("stage epoch %d: %w", epoch, err)
	}
	if err := syncDir(s.staging); err != nil {
		return s.errorf("stage epoch %d: %w", epoch, err)
	}
	s.staged = append(s.staged, stagedEpoch{epoch: epoch, name: name})
	return nil
}

// RegionCheckpointed publishes every staged epoch up to the committed one.
func (s *txSink) RegionCheckpointed(epoch uint64) error {
	rest := s.staged[:0:0]
	for i, st := range s.staged {
		if st.epoch > epoch {
			rest = append(rest, st)
			continue
		}
		if err := s.publish(st); err != nil {
			s.staged = append(rest, s.staged[i:]...)
			return err
		}
	}
	s.staged = rest
	return nil
}

// publish moves a committed epoch's staged file into the published output, idempotently.
func (s *txSink) publish(st stagedEpoch) error {
	src, dst := filepath.Join(s.staging, st.name), filepath.Join(s.dir, s.publishedName(st.epoch))
	err := os.Link(src, dst)
	switch {
	case err == nil, errors.Is(err, fs.ErrExist):
		// Published now, or before: by this lineage before a crash, or by a twin instance.
	case errors.Is(err, fs.ErrNotExist):
		if _, serr := os.Stat(dst); serr == nil {
			return nil // published, and the staged file already removed
		}
		return s.errorf("the staged output of committed epoch %d (%s) is gone and was never published", st.epoch, src)
	default:
		// No hard links on this file system: a rename is as atomic, and checked not to replace.
		if _, serr := os.Stat(dst); serr != nil {
			if err := os.Rename(src, dst); err != nil {
				return s.errorf("publish epoch %d: %w", st.epoch, err)
			}
		}
	}
	if err := syncDir(s.dir); err != nil {
		return s.errorf("publish epoch %d: %w", st.epoch, err)
	}
	// Every staged copy of the epoch is of no use now: this one, and those of other instances (a zombie's,
	// an abandoned lineage's).
	return s.removeStaging(func(e uint64, partial bool) bool { return !partial && e == st.epoch })
}

// Restore goes back to the state of epoch (0: the initial one): it publishes the committed epochs the
// state recorded and deletes everything else this channel staged.
func (s *txSink) Restore(epoch uint64, data []byte) error {
	s.dropPartial()
	s.staged = nil
	if err := os.MkdirAll(s.staging, 0o755); err != nil {
		return s.errorf("%w", err)
	}
	if epoch > 0 {
		if data == nil {
			return s.errorf("no state saved for epoch %d", epoch)
		}
		list, err := decodeStaged(data)
		if err != nil {
			return s.errorf("restore epoch %d: %w", epoch, err)
		}
		for _, st := range list {
			if st.epoch <= epoch {
				if err := s.publish(st); err != nil {
					return err
				}
			}
		}
	}
	return s.removeStaging(func(e uint64, partial bool) bool { return partial || e <= epoch })
}

// removeStaging deletes the partial and staged files of this channel, of every instance, that drop says
// to: drop(epoch, partial) (epoch 0 for a partial file).
//
// A restore to epoch e drops every partial file (uncommitted; an instance whose partial file is gone fails
// when it stages, which fences a zombie) and the staged files of epochs up to e (published just before, or
// of abandoned lineages). It keeps staged files of later epochs: the restore may be a zombie's, with an
// epoch older than one the region has committed meanwhile, whose staged file the rightful instance has
// yet to publish (`weir chaos --docker --seed 21 --nodes 5` lost a committed epoch that way). What they
// leave of abandoned epochs goes when that epoch is published or a later restore passes it.
func (s *txSink) removeStaging(drop func(epoch uint64, partial bool) bool) error {
	entries, err := os.ReadDir(s.staging)
	if err != nil {
		return s.errorf("%w", err)
	}
	for _, e := range entries {
		name := e.Name()
		rest, ok := strings.CutPrefix(name, s.prefix())
		if !ok {
			continue
		}
		var epoch uint64
		switch {
		case strings.HasSuffix(name, ".partial"):
		case strings.HasSuffix(name, ".staged"):
			digits, _, ok := strings.Cut(rest, "-")
			n, err := strconv.ParseUint(digits, 10, 64)
			if !ok || err != nil {
				continue // not a name this sink makes
			}
			epoch = n
		default:
			continue
		}
		if !drop(epoch, epoch == 0) {
			continue
		}
		if err := os.Remove(filepath.Join(s.staging, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return s.errorf("%w", err)
		}
	}
	return nil
}

// dropPartial abandons the epoch in progress: its tuples were never committed.
func (s *txSink) dropPartial() {
	if s.cur == nil {
		return
	}
	_ = s.cur.Close()
	_ = os.Remove(filepath.Join(s.staging, s.curName))
	s.cur = nil
}

// Close abandons the epoch in progress; staged epochs stay for whoever restores this channel.
func (s *txSink) Close() error {
	s.dropPartial()
	return nil
}

// The state is a canonical list [epoch, file name, epoch, file name, …].
func (s *txSink) encodeState() ([]byte, error) {
	list := make([]any, 0, 2*len(s.staged))
	for _, st := range s.staged {
		list = append(list, int(st.epoch), st.name)
	}
	return value.AppendBinary(nil, list)
}

func decodeStaged(data []byte) ([]stagedEpoch, error) {
	v, n, err := value.DecodeBinary(data)
	if err != nil {
		return nil, err
	}
	list, ok := v.([]any)
	if !ok || n != len(data) || len(list)%2 != 0 {
		return nil, errors.New("bad state: not a list of epochs and file names")
	}
	out := make([]stagedEpoch, 0, len(list)/2)
	for i := 0; i < len(list); i += 2 {
		epoch, ok1 := list[i].(int)
		name, ok2 := list[i+1].(string)
		if !ok1 || !ok2 || epoch <= 0 || name != filepath.Base(name) {
			return nil, fmt.Errorf("bad state: entry %d", i/2)
		}
		out = append(out, stagedEpoch{epoch: uint64(epoch), name: name})
	}
	return out, nil
}
