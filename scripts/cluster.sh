#!/bin/sh
# make cluster: three nodes of the tictactoe server, each with its NATS
# server embedded and routed to the others', behind a balancer that sends
# each request to the next node (tools/balancer). Prints the one address to
# open; Ctrl-C stops everything it started. docs/CLUSTER.md. Every client
# reaches the nodes from the balancer's address: the nodes trust its
# X-Forwarded-For for their per-address limits, and do not cap connections
# per address (they would count the balancer).
set -eu
GO=${GO:-go}
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8080}          # the balancer; the nodes take PORT+1..PORT+3
ROUTE_PORT=${ROUTE_PORT:-6221} # their NATS routes take ROUTE_PORT..ROUTE_PORT+2
mkdir -p bin
$GO build -o bin/tictactoe ./examples/tictactoe
$GO build -o bin/balancer ./tools/balancer

pids=""
stop() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap stop EXIT INT TERM

routes=""
for i in 0 1 2; do
	routes="$routes${routes:+,}$HOST:$((ROUTE_PORT + i))"
done
backends=""
for i in 1 2 3; do
	others=$(echo "$routes" | tr ',' '\n' | grep -v ":$((ROUTE_PORT + i - 1))\$" | paste -sd, -)
	bin/tictactoe -addr "$HOST:$((PORT + i))" -node "n$i" \
		-cluster-listen "$HOST:$((ROUTE_PORT + i - 1))" -cluster-routes "$others" \
		-max-conns-per-addr -1 -trusted-proxies "$HOST" \
		-log-level warn "$@" >/dev/null &
	pids="$pids $!"
	backends="$backends${backends:+,}n$i=$HOST:$((PORT + i))"
done
bin/balancer -addr "$HOST:$PORT" -backends "$backends" &
pids="$pids $!"
sleep 1
echo "cometplay cluster (n1, n2, n3; games node n1) is running: open http://$HOST:$PORT/ in two windows"
wait
