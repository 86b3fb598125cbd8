#!/usr/bin/env bash
# Starts a local three-node Weir cluster and runs the demo job on it (examples/demo.yaml: 300 000 numbers,
# ~30 s, into an exactly-once file sink). While it runs, kill a node (the script prints how) and watch the
# job recover; at the end the script checks that the output holds every number exactly once.
#
#   scripts/demo.sh            # DIR=weir-cluster keeps the cluster's state and logs; OUT=out/demo the output
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${DIR:-weir-cluster}
OUT=${OUT:-$PWD/out/demo}
COUNT=${COUNT:-300000}

go build -o bin/weir ./cmd/weir
WEIR=bin/weir
$WEIR cluster down --dir "$DIR" >/dev/null 2>&1 || true
rm -rf "$OUT" "$DIR"
$WEIR cluster up --nodes 3 --dir "$DIR"
export WEIR_ADDR=$($WEIR cluster addr --dir "$DIR")

echo
ID=$($WEIR job submit examples/demo.yaml -P out="$OUT" -P count="$COUNT")
echo "submitted job $ID"
echo "  status:  WEIR_ADDR=$WEIR_ADDR $WEIR job status $ID"
echo "  members: WEIR_ADDR=$WEIR_ADDR $WEIR members"
echo "  output:  $OUT (published files part-*)"
echo "  logs:    $DIR/n*.log"
echo "  try:     kill -9 \$(grep -A1 '\"n2\"' $DIR/cluster.json | grep -o '[0-9]\\+' | tail -1)   # kill node n2"
echo

while :; do
  line=$($WEIR job status "$ID" 2>/dev/null | sed -n '1p;/consistent region/p' | tr '\n' ' ' || true)
  echo "$(date +%T) $line"
  case "$line" in
    *": finished"*|*": failed"*|*": cancelled"*) break ;;
  esac
  sleep 2
done
$WEIR job status "$ID"

total=$(cat "$OUT"/part-* 2>/dev/null | wc -l)
unique=$(cat "$OUT"/part-* 2>/dev/null | sort -u | wc -l)
echo
echo "output: $total lines, $unique distinct (want $COUNT of each)"
if [ "$total" -eq "$COUNT" ] && [ "$unique" -eq "$COUNT" ]; then
  echo "nothing lost, nothing duplicated."
else
  echo "MISMATCH: see $DIR/n*.log"; exit 1
fi
echo "stop the cluster with: $WEIR cluster down --dir $DIR"
