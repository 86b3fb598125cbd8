package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/weirstream/weir/topology"
	"io"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/weirstream/weir/checkpoint"
	"github.com/weirstream/weir/fsm"
	"github.com/weirstream/weir/region"
)

// Leader is the leader's side of the API (the controller).
type Leader interface {
	Submit(ctx context.Context, r SubmitRequest) (string, error)
	Cancel(id string) error
	ResetRegion(id string, region int) error
	Report(r Report)
	// Regions returns the live status of a job's regions, if the job runs.
	Regions(id string) ([]region.Status, bool)
}

// NodeSide is a node's side of the internal API (the worker).
type NodeSide interface {
	Command(c Command) error
	PEs() NodePEs
}

// Backend is what the server serves from.
type Backend interface {
	Self() string
	State() *fsm.State
	// Leader returns the leader's name and HTTP address ("" when there is none).
	Leader() (name, http string)
	// Controller is the controller when this node leads, else nil.
	Controller() Leader
	// VerifyLeader confirms leadership with a quorum (for consistent reads).
	VerifyLeader() error
	Worker() NodeSide
	Members() []Member
	RaftPeers() ([]RaftPeer, error)
	// Leave makes the node leave the cluster gracefully and stop.
	Leave()
	// NodeLeft records, on the leader, that a node leaves the cluster gracefully.
	NodeLeft(name string) error
	// Events is the node's event log.
	Events() *EventLog
	// Checkpoints is the node's own checkpoint store (replicas of other nodes' checkpoints included).
	Checkpoints() checkpoint.Store
}

// StatusCoder is implemented by errors that know the HTTP status they deserve: a submission the client
// must fix (400), a job that does not exist (404). Other errors are the server's (500).
type StatusCoder interface {
	HTTPStatus() int
}

const forwardedHeader = "X-Weir-Forwarded-By"

// Server is a node's HTTP API.
type Server struct {
	b    Backend
	log  *slog.Logger
	mux  *http.ServeMux
	phys sync.Map // job ID -> *region.Physical
}

// NewServer makes the API of backend b.
func NewServer(b Backend, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{b: b, log: log, mux: http.NewServeMux()}
	s.mux.HandleFunc("POST /v1/jobs", s.write(s.submit))
	s.mux.HandleFunc("GET /v1/jobs", s.read(s.jobs))
	s.mux.HandleFunc("GET /v1/jobs/{id}", s.read(s.job))
	s.mux.HandleFunc("DELETE /v1/jobs/{id}", s.write(s.cancel))
	s.mux.HandleFunc("POST /v1/jobs/{id}/regions/{region}/reset", s.write(s.reset))
	s.mux.HandleFunc("GET /v1/members", s.members)
	s.mux.HandleFunc("GET /v1/status", s.read(s.status))
	s.mux.HandleFunc("GET /v1/leader", s.leader)
	s.mux.HandleFunc("GET /v1/events", s.events)
	s.mux.HandleFunc("GET /v1/pes", s.pes)
	s.mux.HandleFunc("POST /v1/agent/leave", s.leave)
	s.mux.HandleFunc("POST /internal/v1/command", s.command)
	s.mux.HandleFunc("POST /internal/v1/reports", s.reports)
	s.mux.HandleFunc("POST /internal/v1/leave/{node}", s.write(s.nodeLeft))
	s.mux.HandleFunc("GET /internal/v1/pes", s.pes)
	s.mux.HandleFunc("GET /internal/v1/ping", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	s.mux.HandleFunc("PUT /internal/v1/checkpoints/{job}/{region}/{epoch}/{pe}", s.putCheckpoint)
	s.mux.HandleFunc("GET /internal/v1/checkpoints/{job}/{region}/{epoch}/{pe}", s.getCheckpoint)
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, err error) {
	writeJSON(w, code, Error{Error: err.Error()})
}

// write serves a write: on the leader, or forwarded to it.
func (s *Server) write(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.b.Controller() != nil {
			h(w, r)
			return
		}
		s.forward(w, r)
	}
}

// read serves a read from this node's replica, or from the leader with ?consistent.
func (s *Server) read(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !r.URL.Query().Has("consistent") {
			h(w, r)
			return
		}
		if s.b.Controller() == nil {
			s.forward(w, r)
			return
		}
		if err := s.b.VerifyLeader(); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, Error{Error: fmt.Sprintf("not the leader any more: %v", err)})
			return
		}
		h(w, r)
	}
}

// forward proxies a request to the leader. A request that was forwarded once is not forwarded again (two
// nodes that each think the other leads must not bounce it forever): it gets 503, safe to retry.
func (s *Server) forward(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength > maxSubmit {
		// Refused here rather than streamed to the leader, which would refuse it after reading 16 MiB.
		writeError(w, http.StatusRequestEntityTooLarge, errTooLarge)
		return
	}
	name, addr := s.b.Leader()
	if addr == "" || name == s.b.Self() {
		writeJSON(w, http.StatusServiceUnavailable, Error{Error: "no leader: the cluster has not elected one yet (retry shortly)"})
		return
	}
	if r.Header.Get(forwardedHeader) != "" {
		writeJSON(w, http.StatusServiceUnavailable, Error{Error: "the leader moved while the request was forwarded (retry)", Leader: name})
		return
	}
	target := &url.URL{Scheme: "http", Host: addr}
	p := httputil.NewSingleHostReverseProxy(target)
	p.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		writeJSON(w, http.StatusBadGateway, Error{Error: fmt.Sprintf("forwarding to the leader %s at %s: %v", name, addr, err), Leader: name})
	}
	r.Header.Set(forwardedHeader, s.b.Self())
	p.ServeHTTP(w, r)
}

func (s *Server) fail(w http.ResponseWriter, err error) {
	var sc StatusCoder
	if errors.As(err, &sc) {
		writeError(w, sc.HTTPStatus(), err)
		return
	}
	s.log.Warn("request failed", "err", err)
	writeError(w, http.StatusInternalServerError, err)
}

const maxSubmit = 16 << 20

var errTooLarge = fmt.Errorf("submission exceeds %d MiB", maxSubmit>>20)

func (s *Server) submit(w http.ResponseWriter, r *http.Request) {
	// Read whole (and bounded): a submission cut at the limit would be reported as invalid JSON, and one
	// that must go to the leader after all (leadership moved since write checked) needs its body again.
	if r.ContentLength > maxSubmit {
		writeError(w, http.StatusRequestEntityTooLarge, errTooLarge)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxSubmit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, errTooLarge)
			return
		}
		writeError(w, http.StatusBadRequest, fmt.Errorf("reading the submission: %w", err))
		return
	}
	var req SubmitRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("submission is not valid JSON: %w", err))
		return
	}
	if dec.More() {
		writeError(w, http.StatusBadRequest, errors.New("submission is not valid JSON: more than one value"))
		return
	}
	c := s.b.Controller()
	if c == nil {
		r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		s.forward(w, r)
		return
	}
	id, err := c.Submit(r.Context(), req)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, SubmitResponse{ID: id})
}

func (s *Server) describe(fj fsm.Job) Job {
	st := s.b.State()
	j := Job{ID: fj.ID, Name: fj.Name, State: string(fj.State), Error: fj.Error, Origin: fj.Origin, Fingerprint: fj.Fingerprint,
		Params: fj.Params, Submitted: fj.Submitted, Ended: fj.Ended}
	for _, r := range st.Regions(fj.ID) {
		j.Regions = append(j.Regions, Region{Index: r.Index, State: r.State, Committed: r.Committed, Generation: r.Generation,
			Attempts: r.Attempts, Commits: r.Commits, Resets: r.Resets, LastCheckpoint: r.LastCheckpoint, LastError: r.LastError})
	}
	if c := s.b.Controller(); c != nil {
		if live, ok := c.Regions(fj.ID); ok {
			for _, l := range live {
				for k := range j.Regions {
					if j.Regions[k].Index == l.Region {
						j.Regions[k].State = l.State.String()
						j.Regions[k].Attempts = l.Attempts
					}
				}
			}
		}
	}
	ph := s.physical(fj)
	for _, p := range st.PlacementList(fj.ID) {
		reg := -1
		if ph != nil {
			if pe, ok := ph.PEByID(p.PE); ok {
				reg = pe.Region
			}
		}
		j.PEs = append(j.PEs, PE{ID: p.PE, Node: p.Node, Region: reg})
	}
	return j
}

// physical expands a job's plan, once per job (a job's plan never changes), to tell the regions of its
// PEs. nil when the plan cannot be read.
func (s *Server) physical(fj fsm.Job) *region.Physical {
	if ph, ok := s.phys.Load(fj.ID); ok {
		return ph.(*region.Physical)
	}
	plan, err := topology.DecodePlan(fj.Plan)
	if err != nil {
		return nil
	}
	ph, err := region.Expand(plan)
	if err != nil {
		return nil
	}
	s.phys.Store(fj.ID, ph)
	return ph
}

func (s *Server) jobs(w http.ResponseWriter, r *http.Request) {
	out := []Job{}
	for _, fj := range s.b.State().Jobs() {
		out = append(out, s.describe(fj))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) job(w http.ResponseWriter, r *http.Request) {
	fj, ok := s.b.State().Job(r.PathValue("id"))
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Errorf("no job %q", r.PathValue("id")))
		return
	}
	writeJSON(w, http.StatusOK, s.describe(fj))
}

func (s *Server) cancel(w http.ResponseWriter, r *http.Request) {
	c := s.b.Controller()
	if c == nil { // leadership moved since write checked
		s.forward(w, r)
		return
	}
	if err := c.Cancel(r.PathValue("id")); err != nil {
		s.fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) reset(w http.ResponseWriter, r *http.Request) {
	reg, err := strconv.Atoi(r.PathValue("region"))
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("region %q is not a number", r.PathValue("region")))
		return
	}
	c := s.b.Controller()
	if c == nil { // leadership moved since write checked
		s.forward(w, r)
		return
	}
	if err := c.ResetRegion(r.PathValue("id"), reg); err != nil {
		s.fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) members(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.b.Members())
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	st := s.b.State()
	leader, _ := s.b.Leader()
	out := Status{Node: s.b.Self(), Leader: leader, PEs: map[string][]string{}, Index: st.Index()}
	peers, err := s.b.RaftPeers()
	if err != nil {
		s.fail(w, err)
		return
	}
	out.Peers = peers
	for _, fj := range st.Jobs() {
		if fj.State.Terminal() {
			continue
		}
		for _, p := range st.PlacementList(fj.ID) {
			out.PEs[p.Node] = append(out.PEs[p.Node], fj.ID+"/"+p.PE)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) leader(w http.ResponseWriter, r *http.Request) {
	name, addr := s.b.Leader()
	writeJSON(w, http.StatusOK, map[string]string{"leader": name, "http": addr})
}

func (s *Server) leave(w http.ResponseWriter, r *http.Request) {
	w.WriteHeader(http.StatusAccepted)
	go s.b.Leave()
}

// nodeLeft is a departing node's word that it leaves (sent after its gossip leave, which the leader may
// have taken for a failure).
func (s *Server) nodeLeft(w http.ResponseWriter, r *http.Request) {
	if err := s.b.NodeLeft(r.PathValue("node")); err != nil {
		s.fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

const maxInternal = 4 << 20

func (s *Server) command(w http.ResponseWriter, r *http.Request) {
	var c Command
	if err := json.NewDecoder(io.LimitReader(r.Body, maxInternal)).Decode(&c); err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("malformed command: %w", err))
		return
	}
	if err := s.b.Worker().Command(c); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) reports(w http.ResponseWriter, r *http.Request) {
	c := s.b.Controller()
	if c == nil {
		name, _ := s.b.Leader()
		writeJSON(w, http.StatusMisdirectedRequest, Error{Error: "reports go to the leader", Leader: name})
		return
	}
	var reps []Report
	if err := json.NewDecoder(io.LimitReader(r.Body, maxInternal)).Decode(&reps); err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("malformed reports: %w", err))
		return
	}
	for _, rep := range reps {
		c.Report(rep)
	}
	w.WriteHeader(http.StatusNoContent)
}

// events serves this node's events numbered above ?since (0 by default), oldest first.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	var since uint64
	if v := r.URL.Query().Get("since"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			writeError(w, http.StatusBadRequest, fmt.Errorf("since=%q is not an event number", v))
			return
		}
		since = n
	}
	out := s.b.Events().Since(since)
	if out == nil {
		out = []Event{}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) pes(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.b.Worker().PEs())
}

func checkpointKey(r *http.Request) (checkpoint.Key, error) {
	reg, err := strconv.Atoi(r.PathValue("region"))
	if err != nil {
		return checkpoint.Key{}, fmt.Errorf("region %q: %w", r.PathValue("region"), err)
	}
	epoch, err := strconv.ParseUint(r.PathValue("epoch"), 10, 64)
	if err != nil {
		return checkpoint.Key{}, fmt.Errorf("epoch %q: %w", r.PathValue("epoch"), err)
	}
	return checkpoint.Key{Job: r.PathValue("job"), Region: reg, Epoch: epoch, PE: r.PathValue("pe")}, nil
}

const maxCheckpoint = 1 << 30

func (s *Server) putCheckpoint(w http.ResponseWriter, r *http.Request) {
	k, err := checkpointKey(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, maxCheckpoint+1))
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	if len(data) > maxCheckpoint {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Errorf("checkpoint %s exceeds %d bytes", k, maxCheckpoint))
		return
	}
	if err := s.b.Checkpoints().Save(r.Context(), k, data); err != nil {
		if errors.Is(err, checkpoint.ErrInvalidKey) {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) getCheckpoint(w http.ResponseWriter, r *http.Request) {
	k, err := checkpointKey(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	data, err := s.b.Checkpoints().Load(r.Context(), k)
	switch {
	case errors.Is(err, checkpoint.ErrNotFound):
		writeError(w, http.StatusNotFound, err)
	case err != nil:
		writeError(w, http.StatusInternalServerError, err)
	default:
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(data)
	}
}

// ServeWithTimeouts wraps a handler in an http.Server with sane timeouts.
func ServeWithTimeouts(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
}
