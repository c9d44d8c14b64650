-- 50-local-wal: claims on a WAL file keep the WAL bounded.  The local store
-- claims on a private connection and commits while the caller's statement
-- runs; state_claim resolves to temp.state_claim (the extension creates it
-- on load), so that statement holds no read mark on main and the WAL can
-- restart.  Through the eponymous main table every claim grew the WAL and
-- ran a checkpoint with an fsync (112 MB of WAL after 3,000 fused claims,
-- ten times slower).  Local store only.

-- 50w.1 the extension made temp.state_claim; loaded twice on one
-- connection, the table is made anew (the old one would use the first
-- load's registry and find no table)
SELECT type, name FROM sqlite_temp_schema WHERE name = 'state_claim';
.ext
CREATE VIRTUAL TABLE twice USING state_tasks(@OPTS@);
INSERT INTO twice(queue, name) VALUES ('q', 'job');
SELECT count(*) FROM state_claim('twice', 'q', 'w');

-- 50w.2 800 tasks, each claim completing the task claimed before (the
-- worker loop of the README), in a separate process on a WAL file: every
-- task completed once, and the WAL stays below 8 MB (it reached about 30 MB
-- before)
.system cd "$TEST_TMP" && echo 's=$(stat -c %s wal.db-wal); if [ "$s" -lt 8000000 ]; then echo "wal below 8 MB"; else echo "wal of $s bytes"; fi' >walsize.sh && { echo "PRAGMA journal_mode = WAL;"; echo "CREATE VIRTUAL TABLE tasks USING state_tasks();"; echo "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 800) INSERT INTO tasks(queue, name) SELECT 'q', 'job' FROM n;"; echo "CREATE TEMP TABLE last(id, tok);"; for i in $(seq 801); do echo "INSERT INTO temp.last SELECT id, lease_token FROM state_claim('tasks', 'q', 'w', 30000, 1, (SELECT json_object('complete', json_array(json_object('id', id, 'token', tok))) FROM temp.last WHERE rowid = (SELECT max(rowid) FROM temp.last))) WHERE outcome = 'claimed';"; done; echo "SELECT count(*), count(DISTINCT id) FROM temp.last;"; echo "SELECT state, count(*) FROM tasks GROUP BY state;"; echo ".shell sh walsize.sh"; } | sqlite3 -batch wal.db -cmd ".load ${STATEVTAB_EXT%.so}"

-- 50w.3 a claim inside a transaction begun with a deferred BEGIN that has
-- read, after another connection wrote: SQLite cannot upgrade it (at once,
-- whatever the busy timeout); the error says to use BEGIN IMMEDIATE, which
-- works
.system cd "$TEST_TMP" && rm -f dl.db* && sqlite3 -batch dl.db -cmd ".load ${STATEVTAB_EXT%.so}" "PRAGMA journal_mode = WAL" "CREATE VIRTUAL TABLE t USING state_tasks()" "INSERT INTO t(name) VALUES ('a')" >/dev/null && printf '%s\n' ".timeout 1000" "BEGIN;" "SELECT count(*) FROM t;" ".connection 1" ".open dl.db" ".load ${STATEVTAB_EXT%.so}" "INSERT INTO t(name) VALUES ('b');" ".connection 0" "SELECT count(*) FROM state_claim('t', 'default', 'w');" "ROLLBACK;" "BEGIN IMMEDIATE;" "SELECT count(*) FROM state_claim('t', 'default', 'w', 30000, 5);" "COMMIT;" | sqlite3 -batch dl.db -cmd ".load ${STATEVTAB_EXT%.so}" 2>&1 | sed 's/^Runtime error near line [0-9]*: /error: /'
