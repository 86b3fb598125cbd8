package checkpoint

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func openDirStore(t testing.TB, dir string) *DirStore {
	t.Helper()
	s, err := OpenDirStore(dir)
	if err != nil {
		t.Fatalf("OpenDirStore(%s): %v", dir, err)
	}
	return s
}

// listTree returns every path under root, relative to it, sorted.
func listTree(t *testing.T, root string) []string {
	t.Helper()
	var paths []string
	err := filepath.WalkDir(root, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		paths = append(paths, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(paths)
	return paths
}

func TestDirStoreLayoutAndFormat(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openDirStore(t, dir)
	k := Key{Job: "job", Region: 1, Epoch: 5, PE: "map[2]"}
	payload := []byte("operator state")
	if err := s.Save(ctx, k, payload); err != nil {
		t.Fatal(err)
	}
	want := []string{".", "job", "job/region-1", "job/region-1/epoch-00000000000000000005",
		"job/region-1/epoch-00000000000000000005/map[2].ckpt"}
	if got := listTree(t, dir); !slices.Equal(got, want) {
		t.Fatalf("tree = %q, want %q", got, want)
	}
	b, err := os.ReadFile(filepath.Join(dir, want[len(want)-1]))
	if err != nil {
		t.Fatal(err)
	}
	if string(b[:8]) != "WEIRCKP1" {
		t.Errorf("magic = %q", b[:8])
	}
	if got, want := binary.LittleEndian.Uint32(b[8:12]), crc32.Checksum(payload, crc32.MakeTable(crc32.Castagnoli)); got != want {
		t.Errorf("crc = %08x, want %08x", got, want)
	}
	if got := binary.LittleEndian.Uint64(b[12:20]); got != uint64(len(payload)) {
		t.Errorf("length = %d, want %d", got, len(payload))
	}
	if !bytes.Equal(b[20:], payload) {
		t.Errorf("payload = %q", b[20:])
	}
}

func TestDirStoreCorruption(t *testing.T) {
	ctx := context.Background()
	payload := bytes.Repeat([]byte("0123456789abcdef"), 16)
	cases := []struct {
		name    string
		corrupt func(b []byte) []byte
	}{
		{"flip payload byte", func(b []byte) []byte { b[headerLen+100] ^= 0x01; return b }},
		{"flip last byte", func(b []byte) []byte { b[len(b)-1] ^= 0x80; return b }},
		{"flip magic byte", func(b []byte) []byte { b[0] ^= 0x20; return b }},
		{"flip checksum byte", func(b []byte) []byte { b[9] ^= 0xff; return b }},
		{"flip length byte", func(b []byte) []byte { b[12] ^= 0x01; return b }},
		{"truncated payload", func(b []byte) []byte { return b[:len(b)-1] }},
		{"truncated to header", func(b []byte) []byte { return b[:headerLen] }},
		{"truncated inside header", func(b []byte) []byte { return b[:headerLen-1] }},
		{"truncated to magic", func(b []byte) []byte { return b[:8] }},
		{"empty file", func(b []byte) []byte { return b[:0] }},
		{"trailing garbage", func(b []byte) []byte { return append(b, 0) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := openDirStore(t, t.TempDir())
			k := Key{Job: "j", Region: 0, Epoch: 1, PE: "pe1"}
			if err := s.Save(ctx, k, payload); err != nil {
				t.Fatal(err)
			}
			path := s.path(k)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, tc.corrupt(b), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := s.Load(ctx, k)
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Load = %d bytes, %v; want ErrCorrupt", len(got), err)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the file %s", err, path)
			}
			// A fresh save repairs the key.
			if err := s.Save(ctx, k, payload); err != nil {
				t.Fatal(err)
			}
			if got, err := s.Load(ctx, k); err != nil || !bytes.Equal(got, payload) {
				t.Fatalf("Load after re-save = %d bytes, %v", len(got), err)
			}
		})
	}
}

func TestDirStoreRemovesTempFilesAtOpen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openDirStore(t, dir)
	k := Key{Job: "j", Region: 0, Epoch: 1, PE: "pe1"}
	if err := s.Save(ctx, k, []byte("kept")); err != nil {
		t.Fatal(err)
	}
	// What a crash between CreateTemp and rename leaves behind, at several depths, including an epoch whose only
	// file is a temp file.
	orphanEpoch := s.epochDir("j", 0, 2)
	if err := os.MkdirAll(orphanEpoch, 0o755); err != nil {
		t.Fatal(err)
	}
	temps := []string{
		filepath.Join(s.epochDir("j", 0, 1), ".tmp-123"),
		filepath.Join(orphanEpoch, ".tmp-456"),
		filepath.Join(dir, ".tmp-789"),
	}
	for _, p := range temps {
		if err := os.WriteFile(p, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// While running, temp files are invisible to Epochs.
	if got, err := s.Epochs(ctx, "j", 0); err != nil || !slices.Equal(got, []uint64{1}) {
		t.Fatalf("Epochs = %v, %v; want [1]", got, err)
	}

	s = openDirStore(t, dir)
	for _, p := range temps {
		if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s survived reopen: %v", p, err)
		}
	}
	if got, err := s.Load(ctx, k); err != nil || string(got) != "kept" {
		t.Fatalf("Load = %q, %v", got, err)
	}
	if got, err := s.Epochs(ctx, "j", 0); err != nil || !slices.Equal(got, []uint64{1}) {
		t.Fatalf("Epochs = %v, %v; want [1]", got, err)
	}
}

func TestDirStoreEpochsIgnoresForeignEntries(t *testing.T) {
	ctx := context.Background()
	s := openDirStore(t, t.TempDir())
	if err := s.Save(ctx, Key{Job: "j", Region: 0, Epoch: 7, PE: "pe1"}, nil); err != nil {
		t.Fatal(err)
	}
	region := s.regionDir("j", 0)
	for _, d := range []string{"epoch-7", "epoch-abc", "epoch-0000000000000000000x", "epoch-00000000000000000000", "other"} {
		if err := os.Mkdir(filepath.Join(region, d), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(region, d, "pe1.ckpt"), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// A file named like an epoch directory is not one.
	if err := os.WriteFile(filepath.Join(region, "epoch-00000000000000000009"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Epochs(ctx, "j", 0); err != nil || !slices.Equal(got, []uint64{7}) {
		t.Fatalf("Epochs = %v, %v; want [7]", got, err)
	}
	// Retire leaves what it did not write alone.
	if err := s.Retire(ctx, "j", 0, 100); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(region, "epoch-abc")); err != nil {
		t.Errorf("Retire removed a foreign directory: %v", err)
	}
}

func TestDirStoreRefusesBadPathComponents(t *testing.T) {
	ctx := context.Background()
	parent := t.TempDir()
	dir := filepath.Join(parent, "store")
	s := openDirStore(t, dir)
	for _, k := range invalidKeys() {
		err := s.Save(ctx, k, []byte("x"))
		if !errors.Is(err, ErrInvalidKey) {
			t.Errorf("Save(%q) = %v, want ErrInvalidKey", k, err)
		}
	}
	if err := s.DeleteJob(ctx, ".."); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("DeleteJob(..) = %v, want ErrInvalidKey", err)
	}
	if got := listTree(t, parent); !slices.Equal(got, []string{".", "store"}) {
		t.Fatalf("bad keys wrote files: %q", got)
	}
	// The message says what is wrong.
	err := s.Save(ctx, Key{Job: "j", Region: 0, Epoch: 1, PE: "../x"}, nil)
	if err == nil || !strings.Contains(err.Error(), `PE "../x"`) {
		t.Errorf("error %v does not name the offending PE", err)
	}
}

func TestDirStoreReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openDirStore(t, dir)
	for e := uint64(1); e <= 3; e++ {
		for _, pe := range []string{"pe1", "pe2"} {
			if err := s.Save(ctx, Key{Job: "j", Region: 2, Epoch: e, PE: pe}, []byte(pe+string(rune('0'+e)))); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.Retire(ctx, "j", 2, 2); err != nil {
		t.Fatal(err)
	}

	// Simulated restart: nothing carries over but the directory.
	s = openDirStore(t, dir)
	if got, err := s.Epochs(ctx, "j", 2); err != nil || !slices.Equal(got, []uint64{2, 3}) {
		t.Fatalf("Epochs after reopen = %v, %v", got, err)
	}
	for e := uint64(2); e <= 3; e++ {
		for _, pe := range []string{"pe1", "pe2"} {
			k := Key{Job: "j", Region: 2, Epoch: e, PE: pe}
			if got, err := s.Load(ctx, k); err != nil || string(got) != pe+string(rune('0'+e)) {
				t.Errorf("Load(%s) after reopen = %q, %v", k, got, err)
			}
		}
	}
	if err := s.Save(ctx, Key{Job: "j", Region: 2, Epoch: 4, PE: "pe1"}, []byte("new")); err != nil {
		t.Fatal(err)
	}
}

func TestOpenDirStoreCreatesNestedDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b", "c")
	openDirStore(t, dir)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		t.Fatalf("Stat(%s) = %v, %v", dir, fi, err)
	}
}

func TestOpenDirStoreOnFileFails(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenDirStore(file); err == nil {
		t.Fatal("OpenDirStore on a regular file succeeded")
	}
}

func BenchmarkDirStoreSave4KiB(b *testing.B) {
	ctx := context.Background()
	s := openDirStore(b, b.TempDir())
	data := bytes.Repeat([]byte{0xa5}, 4096)
	k := Key{Job: "bench", Region: 0, Epoch: 1, PE: "pe1"}
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if err := s.Save(ctx, k, data); err != nil {
			b.Fatal(err)
		}
	}
}
