#!/usr/bin/env bash
# make run: two fake upstream panels (alpha in USD, beta in EUR, the ports
# conf/panelmux.yaml names), panelmuxd with conf/panelmux.yaml and its SQLite
# store under ./var/, a funded demo customer, an operator key for the
# console, demo orders (first run only), and curl lines to try.
# Ctrl-C stops everything this script started.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
CONF=conf/panelmux.yaml
export ALPHA_KEY=${ALPHA_KEY:-demo-alpha-key} BETA_KEY=${BETA_KEY:-demo-beta-key}
mkdir -p var
pids=()
cleanup() {
	trap - INT TERM EXIT
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	echo "stopped."
}
trap cleanup INT TERM EXIT

start_panel() { # name port currency key
	"$BUILD/fakepanel" --listen "127.0.0.1:$2" --currency "$3" --key "$4" \
		--services 50 --progress timer:30000 >"var/fakepanel-$1.out" 2>"var/fakepanel-$1.log" &
	pids+=($!)
}
start_panel alpha 18081 USD "$ALPHA_KEY"
start_panel beta 18082 EUR "$BETA_KEY"

"$BUILD/panelmuxd" -c "$CONF" --check || exit 2
"$BUILD/panelmuxd" -c "$CONF" 2>var/panelmuxd.log &
pids+=($!)
for _ in $(seq 100); do
	curl -s -o /dev/null http://127.0.0.1:8080/api/v2 && break
	sleep 0.1
done

if [ ! -s var/demo.key ]; then
	"$BUILD/panelmux" -c "$CONF" customer add demo >var/demo.key || exit 1
	"$BUILD/panelmux" -c "$CONF" customer fund demo 100 --note "make run demo" >/dev/null
fi
KEY=$(cat var/demo.key)
if [ ! -s var/demo-operator.key ]; then
	"$BUILD/panelmux" -c "$CONF" admin key add demo-operator >var/demo-operator.key || exit 1
fi
OPKEY=$(cat var/demo-operator.key)

# Demo orders, once per store: a few hundred through the customer API,
# then the fake panel is told to finish some partially and cancel others,
# a few are refused (rejected and refunded) and one add gets no usable
# answer (left in doubt for the operator to resolve in the console).
control() { curl -s -o /dev/null -H 'Content-Type: application/json' -d "$1" http://127.0.0.1:18081/control; }
add() { curl -s -o /dev/null -d key="$KEY" -d action=add -d service="$1" -d link="$2" -d quantity="$3" \
	http://127.0.0.1:8080/api/v2; }
if [ ! -e var/demo-orders.done ]; then
	echo "make run: placing demo orders (first run only) ..."
	"$BUILD/panelmux" -c "$CONF" customer fund demo 900 --note "make run demo orders" >/dev/null
	for i in $(seq 1 300); do
		case $((i % 3)) in
		0) add 1 "https://instagram.example/p/demo$i" $((100 + i)) ;;
		1) add 100001 "https://instagram.example/u/demo$i" $((200 + i)) ;;
		2) add 100004 "https://youtube.example/watch?v=demo$i" $((500 + i)) ;;
		esac
	done
	for n in $(seq 1 60); do control "{\"op\":\"set\",\"order\":$n,\"status\":\"Partial\",\"remains\":$n}"; done
	for n in $(seq 61 100); do control "{\"op\":\"set\",\"order\":$n,\"status\":\"Canceled\"}"; done
	control '{"op":"fault","action":"add","mode":"error:Incorrect link"}'
	for i in $(seq 1 20); do add 100001 "https://instagram.example/missing$i" 100; done
	control '{"op":"fault","action":"add","mode":"502"}'
	add 1 "https://instagram.example/p/in-doubt" 250
	control '{"op":"fault","action":"add","mode":"none"}'
	touch var/demo-orders.done
fi
cat <<EOT

panelmux is running on http://127.0.0.1:8080/api/v2 (log: var/panelmuxd.log)
fake upstream panels: alpha on :18081 (USD), beta on :18082 (EUR)
demo customer key: $KEY (funded with 100 USD)

  curl -s -d key=$KEY -d action=balance http://127.0.0.1:8080/api/v2
  curl -s -d key=$KEY -d action=services http://127.0.0.1:8080/api/v2
  curl -s -d key=$KEY -d action=add -d service=1 -d link=https://example.com/p -d quantity=100 http://127.0.0.1:8080/api/v2
  curl -s -d key=$KEY -d action=status -d order=1 http://127.0.0.1:8080/api/v2

operator console: http://127.0.0.1:9090/  (sign in with the demo operator key $OPKEY)
operator CLI:  $BUILD/panelmux -c $CONF customer list | services list | upstream list | check
Ctrl-C stops everything.
EOT
wait
