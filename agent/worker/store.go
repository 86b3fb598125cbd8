package worker

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/weirstream/weir/checkpoint"
)

// Peers lists the other alive nodes and their HTTP addresses, sorted by name.
type Peers func() []Peer

// Peer is another node.
type Peer struct{ Name, HTTP string }

// ReplicatedStore keeps checkpoints on this node and on replicas-1 other nodes, so that a checkpoint
// survives the loss of the node that wrote it without a shared disk. Save returns only when the local copy
// and at least one remote copy (when there is another node) are durable. Load reads the local copy, or
// fetches one from another node. Retiring and deleting act locally: every node collects its own garbage
// from the committed epochs in its FSM replica.
type ReplicatedStore struct {
	checkpoint.Store
	replicas int
	peers    Peers
	http     *http.Client
	// fetch loads from peers: a peer that does not answer (a paused process, a dead container whose
	// address swallows connections) is passed over for the next within seconds.
	fetch *http.Client
	// Patience is how long Load keeps looking for a checkpoint that no live node holds (default
	// DefaultPatience); Retry is its first pause between rounds, doubled up to 2 s (default 100 ms).
	Patience, Retry time.Duration
	// Log, if set, hears that a load is waiting for a node that holds a copy.
	Log func(msg string, args ...any)
}

// DefaultPatience bounds the wait for a checkpoint no live node holds. The checkpoint of a committed epoch
// is durable on two nodes before the epoch commits, so "on no live node" means that its holders are dead,
// frozen or cut off now; most come back within seconds (a restart, a resumed process, a healed partition).
// Failing at once turned one such moment into a burst of failed resets that used up the region's attempts
// in milliseconds (`weir chaos --seed 7 --nodes 5 --duration 30m`). The region's reset timeout still
// bounds the whole reset.
const DefaultPatience = 30 * time.Second

// Peers that do not connect within peerDial, or do not start answering a load within fetchWait, are
// passed over for the next.
const (
	peerDial  = 2 * time.Second
	fetchWait = 5 * time.Second
)

// NewReplicatedStore wraps the node's local store.
func NewReplicatedStore(local checkpoint.Store, replicas int, peers Peers) *ReplicatedStore {
	if replicas < 1 {
		replicas = 1
	}
	dial := (&net.Dialer{Timeout: peerDial, KeepAlive: 30 * time.Second}).DialContext
	return &ReplicatedStore{Store: local, replicas: replicas, peers: peers,
		http:  &http.Client{Transport: &http.Transport{DialContext: dial, MaxIdleConnsPerHost: 4, IdleConnTimeout: time.Minute}},
		fetch: &http.Client{Transport: &http.Transport{DialContext: dial, ResponseHeaderTimeout: fetchWait, MaxIdleConnsPerHost: 4, IdleConnTimeout: time.Minute}},
	}
}

// Local is the node's own store (what the internal checkpoint endpoint serves).
func (s *ReplicatedStore) Local() checkpoint.Store { return s.Store }

// targets orders the peers for k's replicas: a rotation that depends on k, so load spreads; Save takes the
// first ones that answer.
func (s *ReplicatedStore) targets(k checkpoint.Key) []Peer {
	peers := s.peers()
	if len(peers) == 0 || s.replicas <= 1 {
		return nil
	}
	h := fnv.New32a()
	h.Write([]byte(k.Job + "/" + k.PE))
	start := int(h.Sum32() % uint32(len(peers)))
	out := make([]Peer, 0, len(peers))
	for i := range peers {
		out = append(out, peers[(start+i)%len(peers)])
	}
	return out
}

// CheckpointPath is the internal endpoint of one checkpoint.
func CheckpointPath(k checkpoint.Key) string {
	return fmt.Sprintf("/internal/v1/checkpoints/%s/%d/%d/%s", url.PathEscape(k.Job), k.Region, k.Epoch, url.PathEscape(k.PE))
}

// Save implements checkpoint.Store.
func (s *ReplicatedStore) Save(ctx context.Context, k checkpoint.Key, data []byte) error {
	if err := s.Store.Save(ctx, k, data); err != nil {
		return err
	}
	targets := s.targets(k)
	if len(targets) == 0 {
		return nil
	}
	// A peer that does not answer (it may have died a moment ago) is passed over for the next one.
	want := min(s.replicas-1, len(targets))
	var errs []error
	ok := 0
	for _, p := range targets {
		if ok == want {
			break
		}
		if err := s.put(ctx, p, k, data); err != nil {
			errs = append(errs, fmt.Errorf("replica on %s: %w", p.Name, err))
			continue
		}
		ok++
	}
	if ok == 0 {
		return fmt.Errorf("checkpoint %s: no replica saved: %w", k, errors.Join(errs...))
	}
	return nil
}

// putTimeout gives a replica 3 s plus the time 10 MB/s takes to carry the checkpoint: a peer that cannot
// keep up with that is passed over for the next.
func putTimeout(size int) time.Duration {
	return 3*time.Second + time.Duration(size)*time.Second/(10<<20)
}

func (s *ReplicatedStore) put(ctx context.Context, p Peer, k checkpoint.Key, data []byte) error {
	ctx, cancel := context.WithTimeout(ctx, putTimeout(len(data)))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, "http://"+p.HTTP+CheckpointPath(k), strings.NewReader(string(data)))
	if err != nil {
		return err
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %s", resp.Status)
	}
	return nil
}

// Load implements checkpoint.Store: the local copy, else the first other node that has one (kept locally
// afterwards). When no live node has one, it asks again, with growing pauses, for up to Patience or until
// ctx ends.
func (s *ReplicatedStore) Load(ctx context.Context, k checkpoint.Key) ([]byte, error) {
	patience, pause := s.Patience, s.Retry
	if patience <= 0 {
		patience = DefaultPatience
	}
	if pause <= 0 {
		pause = 100 * time.Millisecond
	}
	deadline := time.Now().Add(patience)
	for round := 0; ; round++ {
		data, err := s.loadOnce(ctx, k)
		if err == nil || !errors.Is(err, checkpoint.ErrNotFound) {
			return data, err
		}
		if round == 0 && s.Log != nil {
			s.Log("checkpoint on no live node: waiting for one that holds a copy", "checkpoint", k.String(), "patience", patience)
		}
		wait := min(pause, time.Until(deadline))
		if wait <= 0 {
			return nil, fmt.Errorf("%w (waited %s)", err, patience)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w (gave up waiting: %v)", err, ctx.Err())
		case <-time.After(wait):
		}
		pause = min(2*pause, 2*time.Second)
	}
}

// loadOnce asks this node, then every live peer, once.
func (s *ReplicatedStore) loadOnce(ctx context.Context, k checkpoint.Key) ([]byte, error) {
	data, err := s.Store.Load(ctx, k)
	if err == nil {
		return data, nil
	}
	local := err
	peers := s.peers()
	// Ask the nodes most likely to hold it first.
	first := s.targets(k)
	if len(first) > s.replicas-1 {
		first = first[:s.replicas-1]
	}
	slices.SortStableFunc(peers, func(a, b Peer) int {
		ia, ib := slices.Index(first, a), slices.Index(first, b)
		if ia < 0 {
			ia = len(peers)
		}
		if ib < 0 {
			ib = len(peers)
		}
		return ia - ib
	})
	for _, p := range peers {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.HTTP+CheckpointPath(k), nil)
		if err != nil {
			continue
		}
		resp, err := s.fetch.Do(req)
		if err != nil {
			continue
		}
		body, rerr := readAll(resp)
		if rerr != nil || resp.StatusCode != http.StatusOK {
			continue
		}
		_ = s.Store.Save(ctx, k, body)
		return body, nil
	}
	return nil, fmt.Errorf("checkpoint %s: not here (%v) nor on any other node: %w", k, local, checkpoint.ErrNotFound)
}
