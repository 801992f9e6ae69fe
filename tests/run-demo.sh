#!/usr/bin/env bash
# make run: two fake upstream panels (alpha in USD, beta in EUR, the ports
# conf/panelmux.yaml names), panelmuxd with conf/panelmux.yaml and its SQLite
# store under ./var/, a funded demo customer, and curl lines to try.
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
cat <<EOT

panelmux is running on http://127.0.0.1:8080/api/v2 (log: var/panelmuxd.log)
fake upstream panels: alpha on :18081 (USD), beta on :18082 (EUR)
demo customer key: $KEY (funded with 100 USD)

  curl -s -d key=$KEY -d action=balance http://127.0.0.1:8080/api/v2
  curl -s -d key=$KEY -d action=services http://127.0.0.1:8080/api/v2
  curl -s -d key=$KEY -d action=add -d service=1 -d link=https://example.com/p -d quantity=100 http://127.0.0.1:8080/api/v2
  curl -s -d key=$KEY -d action=status -d order=1 http://127.0.0.1:8080/api/v2

operator CLI:  $BUILD/panelmux -c $CONF customer list | services list | upstream list | check
Ctrl-C stops everything.
EOT
wait
