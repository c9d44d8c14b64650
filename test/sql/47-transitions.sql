-- 47-transitions: the task state machine, the same on every store.  Table
-- tr lists each transition: the task (alone in a queue named after it),
-- the action taken, and the state, attempts and token step expected after
-- it ("+1": the fencing token is the previous one plus 1, "=": unchanged).
-- Each action is one statement; after each, the check prints "ok" or what
-- differs.  Leases are ended with state_renew(..., 0) (no clock involved).

CREATE VIRTUAL TABLE tasks USING state_tasks(@OPTS@);
CREATE VIRTUAL TABLE dead_letters USING state_dead_letters(@OPTS@);
CREATE TEMP TABLE tr(n INTEGER PRIMARY KEY, task TEXT, action TEXT,
                     want_state TEXT, want_attempts INTEGER, want_token TEXT);
CREATE TEMP TABLE tok(task TEXT PRIMARY KEY, token INTEGER);
INSERT INTO tr VALUES
  (1,  'a', 'claim',                     'claimed',   1, '+1'),
  (2,  'a', 'complete',                  'completed', 1, '='),
  (3,  'a', 'complete again',            'completed', 1, '='),
  (4,  'b', 'claim',                     'claimed',   1, '+1'),
  (5,  'b', 'fail, retry now',           'pending',   1, '='),
  (6,  'b', 'claim',                     'claimed',   2, '+1'),
  (7,  'b', 'fail at max_attempts',      'dead',      2, '='),
  (8,  'c', 'claim',                     'claimed',   1, '+1'),
  (9,  'c', 'lease ends',                'claimed',   1, '='),
  (10, 'c', 'claim (reaps, re-claims)',  'claimed',   2, '+1'),
  (11, 'c', 'lease ends',                'claimed',   2, '='),
  (12, 'c', 'claim (reaps at max)',      'dead',      2, '='),
  (13, 'd', 'cancel pending',            'cancelled', 0, '='),
  (14, 'd', 'claim (nothing)',           'cancelled', 0, '='),
  (15, 'e', 'claim',                     'claimed',   1, '+1'),
  (16, 'e', 'cancel claimed',            'cancelled', 1, '='),
  (17, 'e', 'complete (stale)',          'cancelled', 1, '='),
  (18, 'f', 'claim',                     'claimed',   1, '+1'),
  (19, 'f', 'fail, default back-off',    'pending',   1, '='),
  (20, 'f', 'claim (not yet due)',       'pending',   1, '='),
  (21, 'g', 'claim',                     'claimed',   1, '+1'),
  (22, 'g', 'renew',                     'claimed',   1, '='),
  (23, 'g', 'fail with a stale token',   'claimed',   1, '='),
  (24, 'g', 'complete',                  'completed', 1, '='),
  (25, 'h', 'claim (waiting: nothing)',  'waiting',   0, '='),
  (26, 'h', 'its dependency completes',  'pending',   0, '='),
  (27, 'j', 'its dependency dies',       'cancelled', 0, '=');

INSERT INTO tasks(id, queue, name, max_attempts)
  SELECT task, task, 'job', 2 FROM (SELECT DISTINCT task FROM tr)
   WHERE task NOT IN ('h', 'j');
-- h and j wait (depends_on) for i and k, in queues of their own
INSERT INTO tasks(id, queue, name, max_attempts) VALUES ('i', 'i', 'job', 2),
  ('k', 'k', 'job', 1);
INSERT INTO tasks(id, queue, name, depends_on) VALUES ('h', 'h', 'job', '["i"]'),
  ('j', 'j', 'job', '["k"]');
INSERT INTO tok SELECT DISTINCT task, 0 FROM tr;

-- The check of step N: state, attempts and token step, or what differs;
-- then the token is remembered for the next step.
CREATE TEMP VIEW chk AS
  SELECT tr.n, tr.task, tr.action,
         CASE WHEN t.state = tr.want_state AND t.attempts = tr.want_attempts
                   AND ((tr.want_token = '+1'
                         AND t.lease_token = tok.token + 1)
                        OR (tr.want_token = '='
                            AND coalesce(t.lease_token, 0) = tok.token))
              THEN 'ok'
              ELSE printf('got %s, attempts %d, token %s (was %d)', t.state,
                          t.attempts, t.lease_token, tok.token) END AS result
    FROM tr JOIN tasks t ON t.id = tr.task JOIN tok ON tok.task = tr.task;

SELECT count(*) FROM state_claim('tasks', 'a', 'w');
SELECT * FROM chk WHERE n = 1;
UPDATE tok SET token = (SELECT lease_token FROM tasks WHERE id = 'a') WHERE task = 'a';
SELECT state_complete('tasks', 'a', (SELECT token FROM tok WHERE task = 'a'));
SELECT * FROM chk WHERE n = 2;
SELECT state_complete('tasks', 'a', (SELECT token FROM tok WHERE task = 'a'));
SELECT * FROM chk WHERE n = 3;

SELECT count(*) FROM state_claim('tasks', 'b', 'w');
SELECT * FROM chk WHERE n = 4;
UPDATE tok SET token = (SELECT lease_token FROM tasks WHERE id = 'b') WHERE task = 'b';
SELECT state_fail('tasks', 'b', (SELECT token FROM tok WHERE task = 'b'), 'x', 0);
SELECT * FROM chk WHERE n = 5;
SELECT count(*) FROM state_claim('tasks', 'b', 'w');
SELECT * FROM chk WHERE n = 6;
UPDATE tok SET token = (SELECT lease_token FROM tasks WHERE id = 'b') WHERE task = 'b';
SELECT state_fail('tasks', 'b', (SELECT token FROM tok WHERE task = 'b'), 'y', 0);
SELECT * FROM chk WHERE n = 7;
SELECT task_id, reason, attempts FROM dead_letters WHERE task_id = 'b';

SELECT count(*) FROM state_claim('tasks', 'c', 'w');
SELECT * FROM chk WHERE n = 8;
UPDATE tok SET token = (SELECT lease_token FROM tasks WHERE id = 'c') WHERE task = 'c';
SELECT state_renew('tasks', 'c', (SELECT token FROM tok WHERE task = 'c'), 0) IS NOT NULL;
SELECT * FROM chk WHERE n = 9;
SELECT count(*) FROM state_claim('tasks', 'c', 'w');
SELECT * FROM chk WHERE n = 10;
UPDATE tok SET token = (SELECT lease_token FROM tasks WHERE id = 'c') WHERE task = 'c';
SELECT state_renew('tasks', 'c', (SELECT token FROM tok WHERE task = 'c'), 0) IS NOT NULL;
SELECT * FROM chk WHERE n = 11;
SELECT count(*) FROM state_claim('tasks', 'c', 'w');
SELECT * FROM chk WHERE n = 12;
SELECT task_id, reason, attempts FROM dead_letters WHERE task_id = 'c';

UPDATE tasks SET state = 'cancelled' WHERE id = 'd';
SELECT * FROM chk WHERE n = 13;
SELECT count(*) FROM state_claim('tasks', 'd', 'w');
SELECT * FROM chk WHERE n = 14;

SELECT count(*) FROM state_claim('tasks', 'e', 'w');
SELECT * FROM chk WHERE n = 15;
UPDATE tok SET token = (SELECT lease_token FROM tasks WHERE id = 'e') WHERE task = 'e';
UPDATE tasks SET state = 'cancelled' WHERE id = 'e';
SELECT * FROM chk WHERE n = 16;
SELECT state_complete('tasks', 'e', (SELECT token FROM tok WHERE task = 'e'));
SELECT * FROM chk WHERE n = 17;

SELECT count(*) FROM state_claim('tasks', 'f', 'w');
SELECT * FROM chk WHERE n = 18;
UPDATE tok SET token = (SELECT lease_token FROM tasks WHERE id = 'f') WHERE task = 'f';
SELECT state_fail('tasks', 'f', (SELECT token FROM tok WHERE task = 'f'), 'z');
SELECT * FROM chk WHERE n = 19;
SELECT run_at > updated_at FROM tasks WHERE id = 'f';
SELECT count(*) FROM state_claim('tasks', 'f', 'w');
SELECT * FROM chk WHERE n = 20;

SELECT count(*) FROM state_claim('tasks', 'g', 'w');
SELECT * FROM chk WHERE n = 21;
UPDATE tok SET token = (SELECT lease_token FROM tasks WHERE id = 'g') WHERE task = 'g';
SELECT state_renew('tasks', 'g', (SELECT token FROM tok WHERE task = 'g'), 60000) IS NOT NULL;
SELECT * FROM chk WHERE n = 22;
SELECT state_fail('tasks', 'g', (SELECT token FROM tok WHERE task = 'g') - 1, 'old');
SELECT * FROM chk WHERE n = 23;
SELECT state_complete('tasks', 'g', (SELECT token FROM tok WHERE task = 'g'));
SELECT * FROM chk WHERE n = 24;

SELECT count(*) FROM state_claim('tasks', 'h', 'w');
SELECT * FROM chk WHERE n = 25;
SELECT count(*) FROM state_claim('tasks', 'i', 'w');
SELECT state_complete('tasks', 'i', (SELECT lease_token FROM tasks WHERE id = 'i'));
SELECT * FROM chk WHERE n = 26;
SELECT count(*) FROM state_claim('tasks', 'k', 'w');
SELECT state_fail('tasks', 'k', (SELECT lease_token FROM tasks WHERE id = 'k'), 'x');
SELECT * FROM chk WHERE n = 27;

-- every step was checked once
SELECT count(*) FROM tr;
