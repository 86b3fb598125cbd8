package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Client talks to one node's HTTP API.
type Client struct {
	Addr string // host:port or http://host:port
	HTTP *http.Client
	// RetryNoLeader is how long a request answered "no leader" is retried: such an answer changed nothing,
	// so retrying is safe (Consul's canRetry). 0 does not retry.
	RetryNoLeader time.Duration
}

// NewClient makes a client of the node at addr that waits up to 15 s for a leader.
func NewClient(addr string) *Client {
	return &Client{Addr: addr, HTTP: &http.Client{Timeout: 30 * time.Second}, RetryNoLeader: 15 * time.Second}
}

// StatusError is an error answer from a node.
type StatusError struct {
	Code   int
	Msg    string
	Leader string
}

func (e *StatusError) Error() string { return e.Msg }

// Is makes a 503 answer match ErrNoLeader.
func (e *StatusError) Is(target error) bool {
	return target == ErrNoLeader && e.Code == http.StatusServiceUnavailable
}

// ErrNoLeader matches answers saying that the cluster has no leader (now): the request changed nothing.
var ErrNoLeader = errors.New("no leader")

func (c *Client) url(path string) string {
	base := c.Addr
	if !strings.HasPrefix(base, "http://") && !strings.HasPrefix(base, "https://") {
		base = "http://" + base
	}
	return strings.TrimSuffix(base, "/") + path
}

// Do sends a request with an optional JSON body and decodes a JSON answer into out (if not nil). An answer
// of "no leader" is retried for up to RetryNoLeader.
func (c *Client) Do(ctx context.Context, method, path string, in, out any) error {
	var b []byte
	if in != nil {
		var err error
		if b, err = json.Marshal(in); err != nil {
			return err
		}
	}
	deadline := time.Now().Add(c.RetryNoLeader)
	for {
		err := c.do(ctx, method, path, b, in != nil, out)
		if !errors.Is(err, ErrNoLeader) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func (c *Client) do(ctx context.Context, method, path string, in []byte, hasBody bool, out any) error {
	var body io.Reader
	if hasBody {
		body = bytes.NewReader(in)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.url(path), body)
	if err != nil {
		return err
	}
	if hasBody {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, c.url(path), err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, c.url(path), err)
	}
	if resp.StatusCode >= 300 {
		var e Error
		msg := strings.TrimSpace(string(data))
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			msg = e.Error
		}
		return &StatusError{Code: resp.StatusCode, Msg: msg, Leader: e.Leader}
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: decode answer: %w", method, c.url(path), err)
		}
	}
	return nil
}

// Submit submits a job.
func (c *Client) Submit(ctx context.Context, r SubmitRequest) (string, error) {
	var out SubmitResponse
	err := c.Do(ctx, http.MethodPost, "/v1/jobs", r, &out)
	return out.ID, err
}

// Jobs lists jobs.
func (c *Client) Jobs(ctx context.Context, consistent bool) ([]Job, error) {
	var out []Job
	err := c.Do(ctx, http.MethodGet, "/v1/jobs"+query(consistent), nil, &out)
	return out, err
}

// Job returns one job's status.
func (c *Client) Job(ctx context.Context, id string, consistent bool) (Job, error) {
	var out Job
	err := c.Do(ctx, http.MethodGet, "/v1/jobs/"+url.PathEscape(id)+query(consistent), nil, &out)
	return out, err
}

// Cancel cancels a job.
func (c *Client) Cancel(ctx context.Context, id string) error {
	return c.Do(ctx, http.MethodDelete, "/v1/jobs/"+url.PathEscape(id), nil, nil)
}

// ResetRegion forces a reset of a job's consistent region (the way out of maximum attempts reached).
func (c *Client) ResetRegion(ctx context.Context, id string, region int) error {
	return c.Do(ctx, http.MethodPost, fmt.Sprintf("/v1/jobs/%s/regions/%d/reset", url.PathEscape(id), region), nil, nil)
}

// Members lists the cluster's nodes.
func (c *Client) Members(ctx context.Context) ([]Member, error) {
	var out []Member
	err := c.Do(ctx, http.MethodGet, "/v1/members", nil, &out)
	return out, err
}

// Status returns the cluster's status as the node sees it.
func (c *Client) Status(ctx context.Context, consistent bool) (Status, error) {
	var out Status
	err := c.Do(ctx, http.MethodGet, "/v1/status"+query(consistent), nil, &out)
	return out, err
}

// Leader returns the leader's name.
func (c *Client) Leader(ctx context.Context) (string, error) {
	var out struct {
		Leader string `json:"leader"`
	}
	err := c.Do(ctx, http.MethodGet, "/v1/leader", nil, &out)
	return out.Leader, err
}

// Events returns the node's events numbered above since.
func (c *Client) Events(ctx context.Context, since uint64) ([]Event, error) {
	var out []Event
	err := c.Do(ctx, http.MethodGet, fmt.Sprintf("/v1/events?since=%d", since), nil, &out)
	return out, err
}

// PEs returns what the node runs, finished and counted.
func (c *Client) PEs(ctx context.Context) (NodePEs, error) {
	var out NodePEs
	err := c.Do(ctx, http.MethodGet, "/v1/pes", nil, &out)
	return out, err
}

// Leave asks the node to leave the cluster gracefully and stop.
func (c *Client) Leave(ctx context.Context) error {
	return c.Do(ctx, http.MethodPost, "/v1/agent/leave", nil, nil)
}

func query(consistent bool) string {
	if consistent {
		return "?consistent"
	}
	return ""
}
