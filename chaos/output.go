package chaos

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// maxSamples bounds the examples a reading keeps of each kind of problem.
const maxSamples = 5

// EOOutput is the exactly-once sink's published output, read back.
type EOOutput struct {
	Dir   string
	Files []EOFile
	// Seen counts each value's records (saturating at 255).
	Seen []uint8
	// Last is each key's record of the highest count.
	Last map[int]Record
	// Wrong are records that differ from a fault-free run's; Bad lines or files that are not the job's.
	Wrong, Bad           []string
	WrongCount, BadCount int
	Records              int
}

// EOFile is one published file: the output of one epoch of one channel.
type EOFile struct {
	Name    string `json:"name"`
	Channel string `json:"channel"`
	Epoch   uint64 `json:"epoch"`
	Records int    `json:"records"`
}

// ALOOutput is the at-least-once sink's output, read back.
type ALOOutput struct {
	Dir      string
	Seen     []uint8
	Bad      []string
	BadCount int
	Lines    int
}

func (o *EOOutput) bad(format string, args ...any) {
	o.BadCount++
	if len(o.Bad) < maxSamples {
		o.Bad = append(o.Bad, fmt.Sprintf(format, args...))
	}
}

// ReadEO reads the published files of the exactly-once sink's directory: every file whose name does not
// begin with "." or "_" (the sink's staging directory), each named part-CHANNEL-EPOCH.jsonl.
func ReadEO(dir string, count, keys int) (*EOOutput, error) {
	o := &EOOutput{Dir: dir, Seen: make([]uint8, count), Last: map[int]Record{}}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("chaos: exactly-once output: %w", err)
	}
	for _, de := range entries {
		name := de.Name()
		if strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
			continue
		}
		ch, epoch, ok := parsePublished(name)
		if !ok || de.IsDir() {
			o.bad("%s is not a published file of the sink", name)
			continue
		}
		f := EOFile{Name: name, Channel: ch, Epoch: epoch}
		if err := o.readFile(filepath.Join(dir, name), &f, count, keys); err != nil {
			return nil, err
		}
		o.Files = append(o.Files, f)
	}
	return o, nil
}

// parsePublished parses part-CHANNEL-EPOCH.jsonl.
func parsePublished(name string) (channel string, epoch uint64, ok bool) {
	rest, ok := strings.CutPrefix(name, "part-")
	if !ok {
		return "", 0, false
	}
	rest, ok = strings.CutSuffix(rest, ".jsonl")
	if !ok {
		return "", 0, false
	}
	i := strings.LastIndexByte(rest, '-')
	if i <= 0 {
		return "", 0, false
	}
	e, err := strconv.ParseUint(rest[i+1:], 10, 64)
	if err != nil || e == 0 {
		return "", 0, false
	}
	return rest[:i], e, true
}

type jsonRecord struct {
	V     *int `json:"v"`
	K     *int `json:"k"`
	Count *int `json:"count"`
	Sum   *int `json:"sum"`
}

func (o *EOOutput) readFile(path string, f *EOFile, count, keys int) error {
	fh, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("chaos: exactly-once output: %w", err)
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	for line := 1; sc.Scan(); line++ {
		var jr jsonRecord
		if err := json.Unmarshal(sc.Bytes(), &jr); err != nil || jr.V == nil || jr.K == nil || jr.Count == nil || jr.Sum == nil {
			o.bad("%s:%d: %q is not a record {v, k, count, sum}", f.Name, line, sc.Text())
			continue
		}
		r := Record{V: *jr.V, K: *jr.K, Count: *jr.Count, Sum: *jr.Sum}
		if r.V < 0 || r.V >= count {
			o.bad("%s:%d: value %d is outside [0,%d)", f.Name, line, r.V, count)
			continue
		}
		f.Records++
		o.Records++
		if o.Seen[r.V] < 255 {
			o.Seen[r.V]++
		}
		if want := Expected(r.V, keys); r != want {
			o.WrongCount++
			if len(o.Wrong) < maxSamples {
				o.Wrong = append(o.Wrong, fmt.Sprintf("%s:%d: %+v, want %+v", f.Name, line, r, want))
			}
		}
		if k := r.V % keys; r.Count > o.Last[k].Count {
			o.Last[k] = r
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("chaos: exactly-once output %s: %w", path, err)
	}
	return nil
}

// ReadALO reads every file of the at-least-once sink's directory: one value per line.
func ReadALO(dir string, count int) (*ALOOutput, error) {
	o := &ALOOutput{Dir: dir, Seen: make([]uint8, count)}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("chaos: at-least-once output: %w", err)
	}
	for _, de := range entries {
		if de.IsDir() || strings.HasPrefix(de.Name(), ".") {
			continue
		}
		if err := o.readFile(filepath.Join(dir, de.Name()), count); err != nil {
			return nil, err
		}
	}
	return o, nil
}

func (o *ALOOutput) readFile(path string, count int) error {
	fh, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("chaos: at-least-once output: %w", err)
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	for line := 1; sc.Scan(); line++ {
		o.Lines++
		v, err := strconv.Atoi(strings.TrimSpace(sc.Text()))
		if err != nil || v < 0 || v >= count {
			o.BadCount++
			if len(o.Bad) < maxSamples {
				o.Bad = append(o.Bad, fmt.Sprintf("%s:%d: %q", filepath.Base(path), line, sc.Text()))
			}
			continue
		}
		if o.Seen[v] < 255 {
			o.Seen[v]++
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("chaos: at-least-once output %s: %w", path, err)
	}
	return nil
}
