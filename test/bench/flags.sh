#!/usr/bin/env bash
# test/bench/flags.sh -- flag evaluation rate (not pass/fail): state_flag
# over 100,000 contexts for a flag with two constraints and a rollout, next
# to the raw engine evaluating the same two constraints with json_extract
# over the same contexts (no bucketing: SQLite has no murmurhash), in one
# run.  Ratio = statevtab time / raw time.  Then a flag whose one
# constraint is REGEX next to one whose constraint is IN, same answers over
# the same contexts, three rounds taken in turn (the best time of each, so
# that a busy machine's noise does not land on one side): ratio = REGEX
# time / IN time (the aim: at most 2).
#
#   test/bench/flags.sh [N]      (default 100000; STATEVTAB_EXT overrides the
#                                 extension, default ./statevtab.so)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
ext=${STATEVTAB_EXT:-$root/statevtab.so}
n=${1:-100000}
out=$(sqlite3 :memory: -cmd ".load $ext" <<SQL
CREATE VIRTUAL TABLE flags USING state_flags();
INSERT INTO flags(name, enabled, strategies) VALUES ('f', 1,
 '[{"name":"flexibleRollout","parameters":{"rollout":"30","stickiness":"userId","groupId":"f"},
    "constraints":[{"contextName":"environment","operator":"IN","values":["prod","staging"]},
                   {"contextName":"plan","operator":"STR_STARTS_WITH","values":["pro"],"caseInsensitive":true}]}]');
CREATE TABLE ctx(c TEXT);
WITH RECURSIVE k(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM k WHERE i < $n - 1)
INSERT INTO ctx SELECT json_object('userId', i, 'environment', CASE i % 3 WHEN 0 THEN 'dev' ELSE 'prod' END,
                                   'properties', json_object('plan', CASE i % 2 WHEN 0 THEN 'PRO-x' ELSE 'free' END)) FROM k;
SELECT state_now();
SELECT sum(state_flag('flags', 'f', c)) FROM ctx;
SELECT state_now();
SELECT sum(json_extract(c, '\$.environment') IN ('prod', 'staging')
           AND lower(json_extract(c, '\$.properties.plan')) LIKE 'pro%') FROM ctx;
SELECT state_now();
INSERT INTO flags(name, enabled, strategies) VALUES
 ('in', 1, '[{"name":"default","constraints":[{"contextName":"environment","operator":"IN","values":["prod","staging"]}]}]'),
 ('re', 1, '[{"name":"default","constraints":[{"contextName":"environment","operator":"REGEX","value":"^(prod|staging)\$"}]}]');
$(for r in 1 2 3; do
  printf '%s\n' "SELECT state_now();" "SELECT sum(state_flag('flags', 'in', c)) FROM ctx;" \
    "SELECT state_now();" "SELECT sum(state_flag('flags', 're', c)) FROM ctx;"
done)
SELECT state_now();
SQL
)
set -- $out
t0=$1 on=$2 t1=$3 raw=$4 t2=$5
shift 5
# three rounds of IN then REGEX (each: start, count): the best of each
tin=0 tre=0
for r in 1 2 3; do
  a=$1 nin=$2 b=$3 nre=$4 c=$5
  shift 4
  [ $tin -eq 0 ] || [ $((b - a)) -lt $tin ] && tin=$((b - a))
  [ $tre -eq 0 ] || [ $((c - b)) -lt $tre ] && tre=$((c - b))
done
sv=$((t1 - t0)); rw=$((t2 - t1)); [ $sv -gt 0 ] || sv=1; [ $rw -gt 0 ] || rw=1
echo "flag evaluation over $n contexts (two constraints and a 30% rollout)"
printf '  state_flag        %8d evaluations/s  (%d on)\n' $((n * 1000 / sv)) "$on"
printf '  raw json_extract  %8d evaluations/s  (%d pass the constraints)\n' $((n * 1000 / rw)) "$raw"
awk -v a=$sv -v b=$rw 'BEGIN { printf "  ratio %.2f (statevtab time / raw time)\n", a / b }'
[ $tin -gt 0 ] || tin=1; [ $tre -gt 0 ] || tre=1
echo "one constraint, IN vs REGEX, over the same $n contexts (best of 3 rounds)"
printf '  IN (2 values)     %8d evaluations/s  (%d on)\n' $((n * 1000 / tin)) "$nin"
printf '  REGEX (PCRE2)     %8d evaluations/s  (%d on)\n' $((n * 1000 / tre)) "$nre"
awk -v a=$tre -v b=$tin 'BEGIN { printf "  ratio %.2f (REGEX time / IN time)\n", a / b }'
