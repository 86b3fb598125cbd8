#!/usr/bin/env bash
# Runs every test suite: unit tests with the race detector, multi-process tests and, where a Docker engine
# answers, the container tests (they skip, saying so, where it does not).
set -euo pipefail
cd "$(dirname "$0")/.."
go test -race -timeout 25m ./... "$@"
