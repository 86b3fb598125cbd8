package worker

import (
	"io"
	"net/http"
)

const maxCheckpoint = 1 << 30

func readAll(resp *http.Response) ([]byte, error) {
	defer resp.Body.Close()
	return io.ReadAll(io.LimitReader(resp.Body, maxCheckpoint))
}
