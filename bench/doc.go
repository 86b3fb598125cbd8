// Package bench measures Weir against plain Go: the scenarios behind `go test -bench` and `weir bench`, each
// timing the engine and a hand-written baseline in the same run and reporting the ratio.
package bench
