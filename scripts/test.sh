#!/usr/bin/env bash
# Runs every test suite: unit tests with the race detector, multi-process tests and, where a Docker engine
# answers, the container tests (they skip, saying so, where it does not).
set -euo pipefail
cd "$(dirname "$0")/.."
go test -race -timeout 25m ./... "$@"
# Moving a Raft server's address races inside hashicorp/raft v1.7.3 (hashicorp/raft#681): the test that does
# it skips under -race and runs here without it.
go test -count=1 -run '^TestNonVoterMovesAddress$' ./agent/ "$@"
