# Sourced: starts a throwaway ArcadeDB (PyPI `arcadedb-embedded`, its own JRE) with Bolt on
# 127.0.0.1:18510 and HTTP on 127.0.0.1:18511, a fresh database each time, stopped on exit.
# Used by scripts/test.d/40-neo4j.sh and scripts/bench-neo4j.sh.
work=$PWD/target/neo4j
mkdir -p "$work"
[ -x "$work/venv/bin/python" ] || python3 -m venv "$work/venv"
"$work/venv/bin/python" -c 'import arcadedb_embedded' 2>/dev/null || "$work/venv/bin/pip" install -q arcadedb-embedded
pkg=$("$work/venv/bin/python" -c 'import os, arcadedb_embedded as a; print(os.path.dirname(a.__file__))')
rm -rf "$work/arcade"
# From $work, so ArcadeDB's log/ directory lands there, not in the checkout.
(cd "$work" && exec "$pkg/jre/bin/java" -Xmx768m -cp "$pkg/jars/*" -Darcadedb.server.rootPath="$work/arcade" \
  -Darcadedb.server.databaseDirectory="$work/arcade/databases" -Darcadedb.server.rootPassword=CHANGE_ME \
  -Darcadedb.server.defaultDatabases='aiops[root]' \
  -Darcadedb.server.plugins=Bolt:com.arcadedb.bolt.BoltProtocolPlugin \
  -Darcadedb.bolt.host=127.0.0.1 -Darcadedb.bolt.port=18510 -Darcadedb.bolt.defaultDatabase=aiops \
  -Darcadedb.server.httpIncomingHost=127.0.0.1 -Darcadedb.server.httpIncomingPort=18511 \
  -Darcadedb.server.httpsIncomingPort=18512 \
  com.arcadedb.server.ArcadeDBServer > "$work/arcade.log" 2>&1) &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true' EXIT
for _ in $(seq 300); do
  grep -q 'Server started' "$work/arcade.log" && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/arcade.log"; exit 1; }
  sleep 0.2
done
grep -q 'Server started' "$work/arcade.log" || { tail -20 "$work/arcade.log"; exit 1; }
