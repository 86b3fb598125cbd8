package builtin

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/weirstream/weir/operator"
	"github.com/weirstream/weir/value"
)

// lockedWriter lets the stdout sinks of every channel share one writer, a whole buffer of lines at a time.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// stdout prints each tuple as a line of JSON. Output is buffered and written when the buffer passes
// flushAt, on every Tick (so that it shows live), and on Drain, Finish and Close.
type stdout struct {
	sinkBase
	w   io.Writer
	buf []byte
}

const (
	flushAt    = 4 << 10
	flushEvery = 100 * time.Millisecond
)

func buildStdout(w io.Writer) func(operator.Config) (operator.Factory, error) {
	shared := &lockedWriter{w: w}
	return func(operator.Config) (operator.Factory, error) {
		return sinkFactory(func(operator.Info) (operator.Node, error) {
			return &stdout{w: shared}, nil
		}), nil
	}
}

func (s *stdout) Input() any {
	return func(t any) {
		s.g.Cur = s.id
		b, err := value.AppendJSON(s.buf, t)
		if err != nil {
			s.fail(fmt.Errorf("stdout: %w (tuple %v)", err, t))
			return
		}
		s.buf = append(b, '\n')
		if len(s.buf) >= flushAt {
			if err := s.flush(); err != nil {
				s.fail(err)
			}
		}
	}
}

func (s *stdout) flush() error {
	if len(s.buf) == 0 {
		return nil
	}
	_, err := s.w.Write(s.buf)
	s.buf = s.buf[:0]
	if err != nil {
		return fmt.Errorf("stdout: %w", err)
	}
	return nil
}

func (s *stdout) TickEvery() time.Duration { return flushEvery }
func (s *stdout) Tick(time.Time) error     { return s.flush() }
func (s *stdout) Drain() error             { return s.flush() }
func (s *stdout) Finish() error            { return s.flush() }
func (s *stdout) Close() error             { return s.flush() }
