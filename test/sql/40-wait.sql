-- 40-wait: state_wait(tasks, queue, timeout_ms) -> 1 when a task of the
-- queue is runnable (at once if one is), 0 after the timeout without one.
-- Store-neutral: run_at 1 is due and 9000000000000 is not, on any clock.

CREATE VIRTUAL TABLE tasks USING state_tasks(@OPTS@);

-- 40.1 an empty queue: 0 after the timeout
SELECT state_wait('tasks', 'w', 50);

-- 40.2 a task due long ago: 1 at once (the timeout would not end this run)
INSERT INTO tasks(id, queue, name, run_at) VALUES ('a', 'w', 'x', 1);
SELECT state_wait('tasks', 'w', 600000);

-- 40.3 a task of another queue does not count
SELECT state_wait('tasks', 'other', 50);

-- 40.4 a task scheduled far in the future is not runnable yet
INSERT INTO tasks(id, queue, name, run_at) VALUES ('f', 'later', 'x', 9000000000000);
SELECT state_wait('tasks', 'later', 50);

-- 40.5 a claimed task is not runnable; with its lease expired it is again
SELECT id FROM state_claim('tasks', 'w', 'w1', 600000);
SELECT state_wait('tasks', 'w', 50);
UPDATE tasks SET state = 'pending' WHERE id = 'a';
SELECT id FROM state_claim('tasks', 'w', 'w1', 0);
SELECT state_wait('tasks', 'w', 600000);

-- 40.6 a paused queue has no runnable task
SELECT state_pause('tasks', 'w');
SELECT state_wait('tasks', 'w', 50);
SELECT state_resume('tasks', 'w');
SELECT state_wait('tasks', 'w', 600000);

-- 40.7 errors: wrong table kind, bad timeout
CREATE VIRTUAL TABLE kv USING state_kv(@OPTS@);
SELECT state_wait('kv', 'w', 10);
SELECT state_wait('tasks', 'w', -1);
SELECT state_wait('tasks', 'w', 'soon');
SELECT state_wait('tasks', NULL, 10);
