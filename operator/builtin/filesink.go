package builtin

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/weirstream/weir/operator"
	"github.com/weirstream/weir/value"
)

// errNeedsRegion is the refusal of an exactly-once file sink outside a consistent region.
var errNeedsRegion = errors.New("file sink with exactly_once needs a consistent region: add `consistent:` to the job")

// buildFileSink makes the file sink: at-least-once appends, or exactly-once two-phase commit (txSink).
// Either way each instance writes files named after its channel path, so that the channels of a parallel
// region never write the same file.
func buildFileSink(cfg operator.Config) (operator.Factory, error) {
	dir := cfg.String("path")
	if dir == "" {
		return nil, errors.New("file sink parameter path: empty (it names the output directory)")
	}
	if !cfg.Bool("exactly_once") {
		return sinkFactory(func(info operator.Info) (operator.Node, error) {
			return &appendSink{path: filepath.Join(dir, "part-"+channelName(info.Path)+".jsonl")}, nil
		}), nil
	}
	f := sinkFactory(func(info operator.Info) (operator.Node, error) {
		if !info.InRegion {
			return nil, errNeedsRegion
		}
		return newTxSink(dir, channelName(info.Path))
	})
	return validating{Factory: f, validate: func(info operator.Info) error {
		if !info.InRegion {
			return errNeedsRegion
		}
		return nil
	}}, nil
}

// channelName is "0" outside parallel regions, else the channel in each enclosing region: "2", "1.2".
func channelName(path []int) string {
	if len(path) == 0 {
		return "0"
	}
	parts := make([]string, len(path))
	for i, c := range path {
		parts[i] = strconv.Itoa(c)
	}
	return strings.Join(parts, ".")
}

// appendSink appends a JSON line per tuple to part-<channel>.jsonl, flushing and syncing at every drain,
// checkpoint and close. In a consistent region, replays after a reset append again: at-least-once.
//
// Every write to the file holds whole lines, so that a writer killed between two writes leaves no partial
// line, and writers of one file on several nodes (a PE and its zombie) interleave whole lines only. A
// write cut short all the same (kill -9 within a large write) leaves a partial last line: the next writer
// to open the file drops it, since its record comes after the last checkpoint and will be replayed.
type appendSink struct {
	sinkBase
	path string
	f    *os.File
	w    *bufio.Writer
	buf  []byte
}

func (s *appendSink) Open(operator.Context) error {
	if err := os.MkdirAll(filepath.Dir(s.path), 0o755); err != nil {
		return fmt.Errorf("file sink: %w", err)
	}
	f, err := os.OpenFile(s.path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("file sink: %w", err)
	}
	if err := dropPartialLine(f); err != nil {
		f.Close()
		return fmt.Errorf("file sink %s: %w", s.path, err)
	}
	s.f, s.w = f, bufio.NewWriterSize(f, 64<<10)
	return nil
}

// dropPartialLine truncates a file that does not end with a newline back to its last one: the rest is a
// line whose writer died while writing it.
func dropPartialLine(f *os.File) error {
	st, err := f.Stat()
	if err != nil || st.Size() == 0 {
		return err
	}
	end := st.Size()
	var buf [4096]byte
	for pos := end; pos > 0; {
		n := min(int64(len(buf)), pos)
		pos -= n
		if _, err := f.ReadAt(buf[:n], pos); err != nil {
			return err
		}
		if pos+n == end && buf[n-1] == '\n' {
			return nil // whole lines
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			return f.Truncate(pos + int64(i) + 1)
		}
	}
	return f.Truncate(0)
}

func (s *appendSink) Input() any {
	return func(t any) {
		s.g.Cur = s.id
		if s.w == nil {
			s.fail(errors.New("file sink: tuple before Open"))
			return
		}
		if err := writeWholeLine(s.w, &s.buf, t); err != nil {
			s.fail(fmt.Errorf("file sink %s: %w", s.path, err))
		}
	}
}

// writeWholeLine writes t as a line of JSON, flushing the buffer first if the line would not fit in it:
// each write to the file then ends at a line's end.
func writeWholeLine(w *bufio.Writer, buf *[]byte, t any) error {
	b, err := value.AppendJSON((*buf)[:0], t)
	if err != nil {
		return fmt.Errorf("%w (tuple %v)", err, t)
	}
	*buf = append(b, '\n')
	if len(*buf) > w.Available() && w.Buffered() > 0 {
		if err := w.Flush(); err != nil {
			return err
		}
	}
	_, err = w.Write(*buf)
	return err
}

// writeLine writes t as a line of JSON.
func writeLine(w *bufio.Writer, buf *[]byte, t any) error {
	b, err := value.AppendJSON((*buf)[:0], t)
	if err != nil {
		return fmt.Errorf("%w (tuple %v)", err, t)
	}
	*buf = append(b, '\n')
	_, err = w.Write(*buf)
	return err
}

func (s *appendSink) sync() error {
	if s.f == nil {
		return nil
	}
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("file sink %s: %w", s.path, err)
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("file sink %s: %w", s.path, err)
	}
	return nil
}

func (s *appendSink) Drain() error                      { return s.sync() }
func (s *appendSink) Finish() error                     { return s.sync() }
func (s *appendSink) Checkpoint(uint64) ([]byte, error) { return nil, s.sync() }

func (s *appendSink) Close() error {
	if s.f == nil {
		return nil
	}
	err := s.sync()
	if cerr := s.f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("file sink %s: %w", s.path, cerr)
	}
	s.f, s.w = nil, nil
	return err
}

// syncDir makes the entries of dir (creations, renames) durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
