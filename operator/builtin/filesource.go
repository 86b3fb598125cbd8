package builtin

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/weirstream/weir/operator"
	"github.com/weirstream/weir/value"
)

// File formats.
const (
	formatLines = "lines"
	formatJSONL = "jsonl"
)

// fileSource reads a file line by line. Its state is Offset, the byte offset of the next line (and Line,
// its number, for messages): a restore goes back there exactly.
type fileSource struct {
	Offset int64
	Line   int

	path  string
	jsonl bool
	f     *os.File
	r     *bufio.Reader
	at    int64 // the offset r reads at; differs from Offset after a restore
	buf   []byte
}

func buildFileSource(cfg operator.Config) (operator.Factory, error) {
	path, format := cfg.String("path"), cfg.String("format")
	if path == "" {
		return nil, errors.New("file source parameter path: empty")
	}
	if format != formatLines && format != formatJSONL {
		return nil, fmt.Errorf("file source parameter format: %q, use %q or %q", format, formatLines, formatJSONL)
	}
	return sourceFactory("file source", cfg.Float("rate"), func() operator.Iterator[any] {
		return &fileSource{path: path, jsonl: format == formatJSONL}
	}), nil
}

func (s *fileSource) Open(operator.Context) error {
	f, err := os.Open(s.path)
	if err != nil {
		return fmt.Errorf("file source: %w", err)
	}
	s.f, s.r = f, nil
	return nil
}

func (s *fileSource) Close() error {
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f, s.r = nil, nil
	return err
}

func (s *fileSource) Next() (any, bool, error) {
	if s.f == nil {
		if err := s.Open(nil); err != nil {
			return nil, false, err
		}
	}
	if s.r == nil || s.at != s.Offset {
		if _, err := s.f.Seek(s.Offset, io.SeekStart); err != nil {
			return nil, false, fmt.Errorf("file source %s: %w", s.path, err)
		}
		if s.r == nil {
			s.r = bufio.NewReaderSize(s.f, 64<<10)
		} else {
			s.r.Reset(s.f)
		}
		s.at = s.Offset
	}
	for {
		line, n, err := s.readLine()
		if n == 0 && err == io.EOF {
			return nil, false, nil
		}
		if err != nil && err != io.EOF {
			return nil, false, fmt.Errorf("file source %s:%d: %w", s.path, s.Line+1, err)
		}
		s.at += int64(n)
		s.Offset, s.Line = s.at, s.Line+1
		line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte{'\n'}), []byte{'\r'})
		if !s.jsonl {
			return string(line), true, nil
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue // blank lines separate nothing in JSON Lines
		}
		v, err := value.ParseJSON(line)
		if err != nil {
			return nil, false, fmt.Errorf("file source %s:%d: %w", s.path, s.Line, err)
		}
		return v, true, nil
	}
}

// readLine reads through the next newline or to the end of the file; n is the bytes consumed.
func (s *fileSource) readLine() (line []byte, n int, err error) {
	s.buf = s.buf[:0]
	for {
		chunk, err := s.r.ReadSlice('\n')
		n += len(chunk)
		if err == bufio.ErrBufferFull {
			s.buf = append(s.buf, chunk...)
			continue
		}
		if len(s.buf) > 0 {
			s.buf = append(s.buf, chunk...)
			chunk = s.buf
		}
		return chunk, n, err
	}
}
