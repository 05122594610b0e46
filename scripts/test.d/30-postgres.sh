#!/usr/bin/env bash
# The PostgreSQL incident store and the multi-replica workflow on a real PostgreSQL 15 (Debian
# package `postgresql`): a throwaway cluster on 127.0.0.1:18350 (AIOPS_PG_PORT), run as the `postgres` user,
# stopped (by its data directory's PID) and deleted on exit. Runs the ignored tests of
# adapters/aiops-server/tests/store_postgres.rs with AIOPS_PG_URL pointing at it.
set -euo pipefail
cd "$(dirname "$0")/../.."
PGBIN=/usr/lib/postgresql/15/bin
# The port (AIOPS_PG_PORT): two checkouts on one machine can run this at once.
PORT=${AIOPS_PG_PORT:-18350}
if [ ! -x "$PGBIN/initdb" ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
PGDIR=$(mktemp -d /tmp/aiops-pg.XXXXXX)
chown postgres "$PGDIR"
stop() {
  su postgres -c "$PGBIN/pg_ctl -D $PGDIR/data -m fast -w stop" >/dev/null 2>&1 || true
  rm -rf "$PGDIR"
}
trap stop EXIT
# synchronous_commit=off: commits are not flushed per transaction (the tests kill runners, not
# PostgreSQL); the store itself runs with PostgreSQL's defaults in production.
su postgres -c "$PGBIN/initdb -D $PGDIR/data -U postgres -A trust --no-sync >/dev/null && \
  $PGBIN/pg_ctl -D $PGDIR/data -l $PGDIR/log -w \
  -o '-p $PORT -k $PGDIR -c listen_addresses=127.0.0.1 -c synchronous_commit=off -c max_connections=200' start >/dev/null"
AIOPS_PG_URL=postgres://postgres@127.0.0.1:$PORT/postgres \
  cargo test -q --workspace --test store_postgres -- --ignored
# `aiops serve` as a process on PostgreSQL: kill -9 while awaiting approval, restart, approve,
# the rollback reaches the simulator exactly once (tests/serve_crash.rs), on a database of its own.
su postgres -c "$PGBIN/psql -h 127.0.0.1 -p $PORT -q -c 'CREATE DATABASE serve_crash'"
AIOPS_PG_URL=postgres://postgres@127.0.0.1:$PORT/serve_crash cargo test -q --test serve_crash
