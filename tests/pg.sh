#!/usr/bin/env bash
# tests/pg.sh - a throw-away PostgreSQL cluster on loopback for the tests
# and benchmarks (Debian's postgresql package; pg_ctl as the postgres user
# when run as root, since PostgreSQL refuses to run as root).
#
#   tests/pg.sh start DIR PORT [postgres -c options...]
#       initdb DIR if it is empty, start it on 127.0.0.1:PORT (socket in
#       DIR), wait until it accepts connections; prints the libpq conninfo
#   tests/pg.sh stop DIR [fast|immediate]
#   tests/pg.sh createdb DIR PORT NAME     a fresh database NAME (dropped first)
#   tests/pg.sh psql DIR PORT NAME [psql args...]
set -euo pipefail

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ -z "$bindir" ]; then
	echo "pg.sh: PostgreSQL server binaries not found (apt-get install postgresql)" >&2
	exit 1
fi

as_pg() {
	# From /: the caller's directory may be closed to the postgres user.
	if [ "$(id -u)" = 0 ]; then
		(cd / && runuser -u postgres -- "$@")
	else
		"$@"
	fi
}

cmd=${1:?usage: pg.sh start|stop|createdb|psql DIR ...}
dir=${2:?DIR}
case "$cmd" in
start)
	port=${3:?PORT}
	shift 3
	mkdir -p "$dir"
	if [ "$(id -u)" = 0 ]; then chown postgres: "$dir"; fi
	chmod 700 "$dir"
	if [ ! -f "$dir/PG_VERSION" ]; then
		as_pg "$bindir/initdb" -D "$dir" -U panelmux --auth=trust \
			-E UTF8 --locale=C.UTF-8 >"$dir.initdb.log" 2>&1 ||
			{ cat "$dir.initdb.log" >&2; exit 1; }
	fi
	opts="-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c max_connections=200"
	for o in "$@"; do opts="$opts $o"; done
	as_pg "$bindir/pg_ctl" -D "$dir" -l "$dir/server.log" -o "$opts" \
		-w -t 60 start >/dev/null
	echo "host=127.0.0.1 port=$port user=panelmux dbname=postgres"
	;;
stop)
	mode=${3:-fast}
	if [ -f "$dir/postmaster.pid" ]; then
		as_pg "$bindir/pg_ctl" -D "$dir" -m "$mode" -w -t 60 stop >/dev/null
	fi
	;;
createdb)
	port=${3:?PORT}
	name=${4:?NAME}
	PGOPTIONS="-c client_min_messages=warning" "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U panelmux -d postgres \
		-c "DROP DATABASE IF EXISTS \"$name\" WITH (FORCE)" \
		-c "CREATE DATABASE \"$name\"" >/dev/null
	echo "host=127.0.0.1 port=$port user=panelmux dbname=$name"
	;;
psql)
	port=${3:?PORT}
	name=${4:?NAME}
	shift 4
	exec "$bindir/psql" -X -q -h 127.0.0.1 -p "$port" -U panelmux -d "$name" "$@"
	;;
*)
	echo "pg.sh: unknown command $cmd" >&2
	exit 2
	;;
esac
