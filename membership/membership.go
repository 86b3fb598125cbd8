package membership

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// Meta is what a node announces about itself.
type Meta struct {
	// RPC is the node's multiplexed port (Raft and tuple streams); HTTP its API.
	RPC  string `json:"rpc"`
	HTTP string `json:"http"`
	// Server: the node runs Raft (every Weir node does; voters or not is the leader's decision).
	Server  bool   `json:"server"`
	Version string `json:"version,omitempty"`
	// Leaving is set just before a graceful leave. memberlist reports a leave and a failure alike to its
	// event delegate, so the departing node says which it is in its last meta update.
	Leaving bool `json:"leaving,omitempty"`
}

// Status of a member as gossip sees it.
type Status string

// Statuses.
const (
	Alive Status = "alive"
	// Failed: gossip declared the member dead (it stopped answering probes).
	Failed Status = "failed"
	// Left: the member left gracefully.
	Left Status = "left"
)

// Member is a node of the cluster.
type Member struct {
	Name   string `json:"name"`
	Addr   string `json:"gossip_addr"`
	Meta   Meta   `json:"meta"`
	Status Status `json:"status"`
}

// EventKind says what happened to a member.
type EventKind int

// Event kinds.
const (
	Join EventKind = iota
	Leave
	Fail
	Update
)

func (k EventKind) String() string {
	return [...]string{"join", "leave", "fail", "update"}[k]
}

// Event is a membership change.
type Event struct {
	Kind   EventKind
	Member Member
}

// Config configures gossip.
type Config struct {
	Name string
	// Bind is the gossip address (host:port; port 0 picks one). Advertise, if set, is what others dial.
	Bind, Advertise string
	Meta            Meta
	// Fast uses timings for loopback clusters and tests (failure verdicts in about a second) instead of
	// memberlist's LAN defaults (5 to 8 s).
	Fast   bool
	Logger *slog.Logger
}

// Gossip is a node's membership.
type Gossip struct {
	ml     *memberlist.Memberlist
	metaMu sync.Mutex
	local  Meta
	meta   []byte
	events chan Event
	log    *slog.Logger

	mu      sync.Mutex
	members map[string]Member
	closed  bool
}

// Start starts gossiping. The node knows only itself until it joins another.
func Start(cfg Config) (*Gossip, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	meta, err := json.Marshal(cfg.Meta)
	if err != nil {
		return nil, err
	}
	if len(meta) > memberlist.MetaMaxSize {
		return nil, fmt.Errorf("membership: node meta of %d bytes exceeds %d", len(meta), memberlist.MetaMaxSize)
	}
	g := &Gossip{local: cfg.Meta, meta: meta, events: make(chan Event, 1024), log: cfg.Logger, members: map[string]Member{}}
	mc := memberlist.DefaultLANConfig()
	if cfg.Fast {
		mc = memberlist.DefaultLocalConfig()
		mc.ProbeInterval = 200 * time.Millisecond
		mc.ProbeTimeout = 100 * time.Millisecond
		mc.GossipInterval = 50 * time.Millisecond
		mc.SuspicionMult = 2
		mc.PushPullInterval = 5 * time.Second
	}
	mc.Name = cfg.Name
	host, port, err := splitHostPort(cfg.Bind)
	if err != nil {
		return nil, fmt.Errorf("membership: bind %q: %w", cfg.Bind, err)
	}
	mc.BindAddr, mc.BindPort = host, port
	if cfg.Advertise != "" {
		ah, ap, err := splitHostPort(cfg.Advertise)
		if err != nil {
			return nil, fmt.Errorf("membership: advertise %q: %w", cfg.Advertise, err)
		}
		mc.AdvertiseAddr, mc.AdvertisePort = ah, ap
	}
	mc.Delegate = (*delegate)(g)
	mc.Events = (*eventDelegate)(g)
	mc.Logger = log.New(logWriter{cfg.Logger}, "", 0)
	mc.DeadNodeReclaimTime = 10 * time.Second
	ml, err := memberlist.Create(mc)
	if err != nil {
		return nil, fmt.Errorf("membership: start gossip on %s: %w", cfg.Bind, err)
	}
	g.ml = ml
	return g, nil
}

func splitHostPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return "", 0, err
	}
	if host == "" {
		host = "0.0.0.0"
	}
	return host, port, nil
}

// Addr is the address others gossip with.
func (g *Gossip) Addr() string {
	n := g.ml.LocalNode()
	return net.JoinHostPort(n.Addr.String(), strconv.Itoa(int(n.Port)))
}

// Name is this node's name.
func (g *Gossip) Name() string { return g.ml.LocalNode().Name }

// Join contacts the given members; it succeeds when at least one answered.
func (g *Gossip) Join(addrs []string) (int, error) {
	n, err := g.ml.Join(addrs)
	if n > 0 {
		return n, nil
	}
	if err == nil {
		err = errors.New("no member answered")
	}
	return 0, fmt.Errorf("membership: join %s: %w", strings.Join(addrs, ", "), err)
}

// JoinRetry joins, retrying every interval until it succeeds or ctx ends.
func (g *Gossip) JoinRetry(ctx context.Context, addrs []string, interval time.Duration) error {
	for {
		_, err := g.Join(addrs)
		if err == nil {
			return nil
		}
		g.log.Warn("join failed, retrying", "err", err, "in", interval)
		select {
		case <-ctx.Done():
			return err
		case <-time.After(interval):
		}
	}
}

// Members returns every member known, alive or not, sorted by name.
func (g *Gossip) Members() []Member {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]Member, 0, len(g.members))
	for _, m := range g.members {
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b Member) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Member returns one member.
func (g *Gossip) Member(name string) (Member, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	m, ok := g.members[name]
	return m, ok
}

// Events delivers membership changes. Read it: events are dropped (and logged) when it is full.
func (g *Gossip) Events() <-chan Event { return g.events }

// Leave announces a graceful departure and waits up to timeout for it to spread.
func (g *Gossip) Leave(timeout time.Duration) error {
	g.metaMu.Lock()
	g.local.Leaving = true
	meta, err := json.Marshal(g.local)
	if err == nil {
		g.meta = meta
	}
	g.metaMu.Unlock()
	if err := g.ml.UpdateNode(timeout); err != nil {
		g.log.Warn("announcing the leave failed", "err", err)
	}
	return g.ml.Leave(timeout)
}

// Shutdown stops gossiping, without a leave: to others, this looks like a failure.
func (g *Gossip) Shutdown() error {
	err := g.ml.Shutdown()
	g.mu.Lock()
	if !g.closed {
		g.closed = true
		close(g.events)
	}
	g.mu.Unlock()
	return err
}

func (g *Gossip) record(kind EventKind, n *memberlist.Node) {
	m := Member{Name: n.Name, Addr: n.Address(), Status: Alive}
	if err := json.Unmarshal(n.Meta, &m.Meta); err != nil && len(n.Meta) > 0 {
		g.log.Warn("unreadable node meta", "node", n.Name, "err", err)
	}
	if kind == Fail && m.Meta.Leaving {
		kind = Leave
	}
	switch kind {
	case Leave:
		m.Status = Left
	case Fail:
		m.Status = Failed
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return
	}
	g.members[n.Name] = m
	select {
	case g.events <- Event{Kind: kind, Member: m}:
	default:
		g.log.Error("membership event dropped: nobody reads the events", "kind", kind, "node", n.Name)
	}
}

type delegate Gossip

func (d *delegate) NodeMeta(limit int) []byte {
	d.metaMu.Lock()
	defer d.metaMu.Unlock()
	return d.meta
}
func (d *delegate) NotifyMsg([]byte)                           {}
func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte { return nil }
func (d *delegate) LocalState(join bool) []byte                { return nil }
func (d *delegate) MergeRemoteState(buf []byte, join bool)     {}

type eventDelegate Gossip

func (e *eventDelegate) NotifyJoin(n *memberlist.Node)   { (*Gossip)(e).record(Join, n) }
func (e *eventDelegate) NotifyUpdate(n *memberlist.Node) { (*Gossip)(e).record(Update, n) }
func (e *eventDelegate) NotifyLeave(n *memberlist.Node)  { (*Gossip)(e).record(Fail, n) }

// logWriter sends memberlist's log lines to slog, at the level their prefix says.
type logWriter struct{ l *slog.Logger }

func (w logWriter) Write(b []byte) (int, error) {
	msg := string(bytes.TrimSpace(b))
	switch {
	case strings.Contains(msg, "[ERR]"):
		w.l.Error(msg, "component", "gossip")
	case strings.Contains(msg, "[WARN]"):
		w.l.Warn(msg, "component", "gossip")
	default:
		w.l.Debug(msg, "component", "gossip")
	}
	return len(b), nil
}
