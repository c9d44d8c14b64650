-- 18-options-errors: CREATE VIRTUAL TABLE arguments.  Options are
-- key=value, quotes optional; a bad one is an error that names it, and no
-- table is left behind.  The cases that name a store URL of their own do
-- not depend on the store under test; store facts of this build
-- (what is compiled in) are in 50-local-stores.sql.

-- 18.1 an unknown option
CREATE VIRTUAL TABLE t1 USING state_tasks(@OPTS@, bakend='x');
CREATE VIRTUAL TABLE t1 USING state_kv(@OPTS@, ttl=5);
SELECT count(*) FROM t1;

-- 18.2 the same option twice
CREATE VIRTUAL TABLE t1 USING state_tasks(@OPTS@, store='sqlite:');
CREATE VIRTUAL TABLE t1 USING state_tasks(@OPTS@, prefix='a', prefix='b');
CREATE VIRTUAL TABLE t1 USING state_tasks(@OPTS@, schema=a, schema=a);
SELECT count(*) FROM t1;

-- 18.3 an option without '=', or with an empty or malformed key
CREATE VIRTUAL TABLE t1 USING state_tasks(@OPTS@, fast);
CREATE VIRTUAL TABLE t1 USING state_tasks(@OPTS@, =x);
CREATE VIRTUAL TABLE t1 USING state_tasks(@OPTS@, 'a b'=x);
CREATE VIRTUAL TABLE t1 USING state_tasks(@OPTS@, a-b=x);
SELECT count(*) FROM t1;

-- 18.4 an unknown store scheme
CREATE VIRTUAL TABLE t1 USING state_tasks(store='ftp://example.com/q');
CREATE VIRTUAL TABLE t1 USING state_tasks(store='mysql://u@h/db');
SELECT count(*) FROM t1;

-- 18.5 a malformed store URL
CREATE VIRTUAL TABLE t1 USING state_tasks(store='no scheme here');
CREATE VIRTUAL TABLE t1 USING state_tasks(store=':nothing');
CREATE VIRTUAL TABLE t1 USING state_tasks(store='9p://host');
CREATE VIRTUAL TABLE t1 USING state_tasks(store='sqlite:/tmp/other.db');
-- (found by test/fuzz/options: "redis:" without "//" read past the end)
CREATE VIRTUAL TABLE t1 USING state_tasks(store='redis:/');
CREATE VIRTUAL TABLE t1 USING state_tasks(store='REDIS:x');
SELECT count(*) FROM t1;

-- 18.6 env: names an environment variable that holds the URL
CREATE VIRTUAL TABLE t1 USING state_tasks(store='env:STATEVTAB_TEST_NO_SUCH_VARIABLE');
CREATE VIRTUAL TABLE t1 USING state_tasks(store='env:');
.setenv STATEVTAB_TEST_URL_LOOP env:STATEVTAB_TEST_URL_LOOP
CREATE VIRTUAL TABLE t1 USING state_tasks(store='env:STATEVTAB_TEST_URL_LOOP');
.setenv STATEVTAB_TEST_URL_BAD ftp://x
CREATE VIRTUAL TABLE t1 USING state_tasks(store='env:STATEVTAB_TEST_URL_BAD');
SELECT count(*) FROM t1;

-- 18.7 a password in a URL is never echoed in an error
CREATE VIRTUAL TABLE t1 USING state_tasks(store='ftp://user:s3cret@host/x');
CREATE VIRTUAL TABLE t1 USING state_tasks(store='9p://user:s3cret@host/x');
CREATE VIRTUAL TABLE t1 USING state_tasks(store='bad url://user:s3cret@host');
CREATE VIRTUAL TABLE t1 USING state_tasks(store='sqlite://user:s3cret@host');
.setenv STATEVTAB_TEST_URL_PW nope://user:s3cret@host
CREATE VIRTUAL TABLE t1 USING state_tasks(store='env:STATEVTAB_TEST_URL_PW');
.setenv STATEVTAB_TEST_URL_PW user:s3cret@host
CREATE VIRTUAL TABLE t1 USING state_tasks(store='env:STATEVTAB_TEST_URL_PW');
-- ... nor is anything of an env: variable's value (it may be a secret set
-- by mistake, or hold a password anywhere): the variable is named instead
.setenv SECRET_API_TOKEN sk_live_CANARY0123456789
CREATE VIRTUAL TABLE t1 USING state_tasks(store='env:SECRET_API_TOKEN');
.setenv SECRET_API_TOKEN canary:sk_live_CANARY0123456789
CREATE VIRTUAL TABLE t1 USING state_tasks(store='env:SECRET_API_TOKEN');
.setenv SECRET_API_TOKEN sqlite:sk_live_CANARY0123456789
CREATE VIRTUAL TABLE t1 USING state_tasks(store='env:SECRET_API_TOKEN');
.setenv SECRET_API_TOKEN rediss://u:CANARY@host:1
CREATE VIRTUAL TABLE t1 USING state_tasks(store='env:SECRET_API_TOKEN');

-- 18.8 the first bad option is reported, before any store is opened
CREATE VIRTUAL TABLE t1 USING state_tasks(store='ftp://x', store='y');
CREATE VIRTUAL TABLE t1 USING state_tasks(store='ftp://x', junk);

-- 18.9 blanks and line breaks around the options
CREATE VIRTUAL TABLE q1 USING state_tasks(
  @OPTS:q1@
);
CREATE VIRTUAL TABLE q2 USING state_tasks(  @OPTS:q2@  );
INSERT INTO q1(name) VALUES ('x'); INSERT INTO q2(name) VALUES ('y');
SELECT name FROM q1; SELECT name FROM q2;

-- 18.10 a failed CREATE leaves no table, and the name is free
CREATE VIRTUAL TABLE t1 USING state_tasks(@OPTS@);
INSERT INTO t1(name) VALUES ('finally');
SELECT name FROM t1;

-- 18.11 indexes= (extra indexes on every store) is accepted by every
-- store, so that one CREATE moves between stores by its store= alone; an
-- unknown column in it is an error (50.16, 60.15, 70.15)
CREATE VIRTUAL TABLE ix1 USING state_counters(@OPTS@, indexes='value');
INSERT INTO ix1(scope, name, value) VALUES ('ix', 'a', 1);
SELECT name, value FROM ix1 WHERE scope = 'ix';
