#!/usr/bin/env bash
# The raw `weir agent` commands of a three-node cluster on loopback, for people who start nodes by hand.
# (`weir cluster up` does the same with free ports.) Each node gets its own ports and data directory; they
# find each other through --join and elect a leader once all three have met (--bootstrap-expect 3).
#
#   scripts/cluster-by-hand.sh            # starts the nodes in the background, logs in $DIR/n*.log
#   kill $(cat $DIR/n*.pid)               # SIGTERM: each node leaves gracefully
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${DIR:-by-hand}
WEIR=${WEIR:-bin/weir}
[ -x "$WEIR" ] || go build -o bin/weir ./cmd/weir
mkdir -p "$DIR"

for i in 1 2 3; do
  "$WEIR" agent \
    --name "n$i" \
    --data-dir "$DIR/n$i" \
    --http-addr "127.0.0.1:741$i" \
    --rpc-addr "127.0.0.1:742$i" \
    --bind "127.0.0.1:743$i" \
    --join 127.0.0.1:7431 --join 127.0.0.1:7432 --join 127.0.0.1:7433 \
    --bootstrap-expect 3 \
    > "$DIR/n$i.log" 2>&1 &
  echo $! > "$DIR/n$i.pid"
done

export WEIR_ADDR=127.0.0.1:7411
for _ in $(seq 1 100); do
  "$WEIR" members >/dev/null 2>&1 && "$WEIR" status | grep -q "leader n" && break
  sleep 0.2
done
"$WEIR" members
echo "WEIR_ADDR=$WEIR_ADDR; stop with: kill \$(cat $DIR/n*.pid)"
