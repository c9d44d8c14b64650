-- 30-complete-list: state_complete(tasks, list) completes many tasks in
-- one atomic step (one transaction, one round trip) and returns how many
-- it completed; a stale entry is skipped, not counted.  Every store.

CREATE VIRTUAL TABLE dead_letters USING state_dead_letters(@OPTS@);
CREATE VIRTUAL TABLE tasks USING state_tasks(@OPTS@);
DELETE FROM tasks;
INSERT INTO tasks(id, queue, name, priority) VALUES
  ('a', 'cl', 'x', 1), ('b', 'cl', 'x', 2), ('c', 'cl', 'x', 3), ('d', 'cl', 'x', 4);
CREATE TEMP TABLE got AS
  SELECT id, lease_token FROM state_claim('tasks', 'cl', 'w', 30000, 3);
SELECT id FROM got ORDER BY id;

-- 30.20 every entry completed, with its result (or NULL without one)
SELECT state_complete('tasks', (SELECT json_group_array(
  CASE id WHEN 'a' THEN json_object('id', id, 'token', lease_token, 'result', json('{"ok":1}'))
          ELSE json_object('id', id, 'token', lease_token) END) FROM got));
SELECT id, state, result, lease_owner IS NULL, completed_at IS NOT NULL
  FROM tasks ORDER BY id;

-- 30.21 the same list again (a retry after a lost reply): every task is
-- completed with its entry's token, so every entry counts; nothing changes
SELECT state_complete('tasks', (SELECT json_group_array(
  json_object('id', id, 'token', lease_token)) FROM got));
SELECT id, state FROM tasks ORDER BY id;

-- 30.22 a list mixing a current token, a stale one and an unknown id:
-- only the current one counts
DELETE FROM got;
INSERT INTO got SELECT id, lease_token FROM state_claim('tasks', 'cl', 'w', 30000, 1);
SELECT state_complete('tasks', json_array(
  json_object('id', 'd', 'token', (SELECT lease_token FROM got) + 5),
  json_object('id', 'nope', 'token', 1),
  json_object('id', 'd', 'token', (SELECT lease_token FROM got))));
SELECT id, state FROM tasks WHERE id = 'd';

-- 30.23 an empty list completes nothing
SELECT state_complete('tasks', '[]');

-- 30.24 a bad list is an error naming it; nothing is completed
INSERT INTO tasks(id, queue, name) VALUES ('e', 'cl2', 'x');
DELETE FROM got;
INSERT INTO got SELECT id, lease_token FROM state_claim('tasks', 'cl2', 'w', 30000, 1);
SELECT state_complete('tasks', '{}');
SELECT state_complete('tasks', '[{"id": "e"}]');
SELECT state_complete('tasks', json_array(
  json_object('id', 'e', 'token', (SELECT lease_token FROM got)), 7));
SELECT state_complete('tasks', '[{"id": "e", "token": 1.5}]');
SELECT state_complete('tasks', '[1,');
SELECT state_complete('tasks', '[] x');
SELECT state_complete('tasks', x'5b5d');
SELECT state_complete('tasks', NULL);
SELECT state_complete('tasks', 42);
SELECT state_complete('nope', '[]');
SELECT id, state FROM tasks WHERE id = 'e';

-- 30.25 a view cannot call it (side effects: DIRECTONLY)
CREATE VIEW vc AS SELECT state_complete('tasks', '[]') AS n;
SELECT n FROM vc;

-- 30.26 the same task more than once in a list: as if the entries were
-- applied one at a time in order -- the first entry with the current token
-- completes it (with that entry's result), a later entry with the same
-- token counts but changes nothing, an entry with another token is stale
INSERT INTO tasks(id, queue, name, priority) VALUES
  ('f', 'cl3', 'x', 1), ('g', 'cl3', 'x', 2);
DELETE FROM got;
INSERT INTO got SELECT id, lease_token FROM state_claim('tasks', 'cl3', 'w', 30000, 2);
SELECT state_complete('tasks', json_array(
  json_object('id', 'f', 'token', (SELECT lease_token FROM got WHERE id = 'f') + 1,
              'result', json('{"r":"stale"}')),
  json_object('id', 'f', 'token', (SELECT lease_token FROM got WHERE id = 'f'),
              'result', json('{"r":"first"}')),
  json_object('id', 'g', 'token', (SELECT lease_token FROM got WHERE id = 'g'),
              'result', json('{"r":"g"}')),
  json_object('id', 'f', 'token', (SELECT lease_token FROM got WHERE id = 'f'),
              'result', json('{"r":"second"}'))));
SELECT id, state, result FROM tasks WHERE queue = 'cl3' ORDER BY id;
-- and through state_claim's complete option: the stale entries come back
-- as rows with outcome 'stale' (the second entry for h is not stale: h is
-- completed with its token)
INSERT INTO tasks(id, queue, name) VALUES ('h', 'cl4', 'x');
DELETE FROM got;
INSERT INTO got SELECT id, lease_token FROM state_claim('tasks', 'cl4', 'w', 30000, 1);
SELECT id, outcome FROM state_claim('tasks', 'cl4', 'w', 30000, 0,
  json_object('complete', json_array(
    json_object('id', 'h', 'token', (SELECT lease_token FROM got), 'result', 1),
    json_object('id', 'h', 'token', (SELECT lease_token FROM got), 'result', 2),
    json_object('id', 'nope', 'token', 1))));
SELECT id, state, result FROM tasks WHERE id = 'h';
