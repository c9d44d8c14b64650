-- 45-flags-delta: Unleash's delta API (state_flags_apply_delta): the
-- client specification's suites 19 (hydration) and 20 (feature-updated,
-- feature-removed, segment-updated), their "state" applied as written,
-- each case printed as <suite>/<description>|<expected>|<actual>; then
-- segment-removed, a hydration that replaces everything, the forms a delta
-- may take, the eventId returned, errors and all-or-nothing.  The suites
-- are Unleash/client-specification (commit 931b695, as in 6.1.0).

-- 19-delta-api-hydration: 1 isEnabled cases
CREATE VIRTUAL TABLE s19 USING state_segments(@OPTS:n19@);
CREATE VIRTUAL TABLE f19 USING state_flags(@OPTS:n19@, segments='s19');
SELECT state_flags_apply_delta('f19', '{"events":[{"eventId":1,"type":"hydration","segments":[{"id":1,"name":"delta.api.hydration.segment","constraints":[{"values":["abc","edf","gbd"],"inverted":false,"operator":"IN","contextName":"appName","caseInsensitive":false}]}],"features":[{"impressionData":false,"enabled":true,"name":"delta.api.hydration","description":null,"project":"default","stale":false,"type":"release","variants":[],"segments":[1],"strategies":[{"name":"flexibleRollout","constraints":[],"parameters":{"groupId":"delta.api.hydration","rollout":"100","stickiness":"default"},"variants":[]}]}]}]}');
SELECT '19-delta-api-hydration/Hydration feature should be enabled when context criteria are met', 1, state_flag('f19', 'delta.api.hydration', '{"appName":"abc"}');

-- 20-delta-api-events: 3 isEnabled cases
CREATE VIRTUAL TABLE s20 USING state_segments(@OPTS:n20@);
CREATE VIRTUAL TABLE f20 USING state_flags(@OPTS:n20@, segments='s20');
SELECT state_flags_apply_delta('f20', '{"events":[{"eventId":1,"type":"feature-updated","feature":{"impressionData":false,"enabled":true,"name":"delta.api.events.updated.1","description":null,"project":"default","stale":false,"type":"release","variants":[],"strategies":[{"name":"default"}]}},{"eventId":2,"type":"feature-updated","feature":{"impressionData":false,"enabled":true,"name":"delta.api.events.updated.2","description":null,"project":"default","stale":false,"type":"release","variants":[],"strategies":[{"name":"default"}]}},{"eventId":3,"type":"feature-removed","featureName":"delta.api.events.updated.2","project":"default"},{"eventId":4,"type":"segment-updated","segment":{"id":1,"name":"my-segment","constraints":[{"values":["abc","edf","gbd"],"inverted":false,"operator":"IN","contextName":"appName","caseInsensitive":false}]}},{"eventId":5,"type":"feature-updated","feature":{"impressionData":false,"enabled":true,"name":"delta.api.events.updated.3","description":null,"project":"default","stale":false,"type":"release","variants":[],"strategies":[{"name":"default","segments":[1]}]}}]}');
SELECT '20-delta-api-events/delta.api.events.updated.1 should be enabled', 1, state_flag('f20', 'delta.api.events.updated.1', '{}');
SELECT '20-delta-api-events/delta.api.events.updated.2 should be disabled', 0, state_flag('f20', 'delta.api.events.updated.2', '{}');
SELECT '20-delta-api-events/delta.api.events.updated.3 should be enabled with segment', 1, state_flag('f20', 'delta.api.events.updated.3', '{"appName":"abc"}');
-- 45d.1 the answers beyond the spec's cases: suite 20's segment gates
-- updated.3, and updated.2 is gone from the table; the segment is a row
SELECT state_flag('f20', 'delta.api.events.updated.3', '{"appName":"zzz"}');
SELECT name FROM f20 ORDER BY name;
SELECT id, name, constraints FROM s20;

-- 45d.2 segment-removed; a strategy naming it is then false; a bare array
-- of events (not one event on its own); the result is the last eventId
SELECT state_flags_apply_delta('f20', '{"eventId":6,"type":"segment-removed","segmentId":1}');
SELECT count(*) FROM s20;
SELECT state_flag('f20', 'delta.api.events.updated.3', '{"appName":"abc"}');
SELECT state_flags_apply_delta('f20', '[{"eventId":7,"type":"segment-updated","segment":{"id":1,"constraints":[]}},{"eventId":8,"type":"feature-removed","featureName":"nope","project":"default"}]');
SELECT state_flag('f20', 'delta.api.events.updated.3', '{"appName":"zzz"}');
SELECT quote(state_flags_apply_delta('f20', '{"events":[]}')), quote(state_flags_apply_delta('f20', '[]'));

-- 45d.3 feature-updated replaces the whole definition (a rollout set by
-- hand goes too)
UPDATE f20 SET rollout = 0, description = 'by hand' WHERE name = 'delta.api.events.updated.1';
SELECT state_flags_apply_delta('f20', '{"events":[{"eventId":9,"type":"feature-updated","feature":{"name":"delta.api.events.updated.1","enabled":false,"variants":[{"name":"v","weight":1}]}}]}');
SELECT name, enabled, quote(description), quote(rollout), strategies, variants FROM f20 WHERE name = 'delta.api.events.updated.1';

-- 45d.4 a hydration replaces everything: flags and segments not in it go;
-- events after it in the same delta apply on top
SELECT state_flags_apply_delta('f20', '{"events":[
  {"eventId":10,"type":"hydration","segments":[{"id":5,"name":"five","constraints":[]}],
   "features":[{"name":"h1","enabled":true,"strategies":[{"name":"default","segments":[5]}]},{"name":"h2","enabled":true}]},
  {"eventId":11,"type":"feature-removed","featureName":"h2","project":"default"}]}');
SELECT group_concat(name) FROM f20;
SELECT group_concat(id) FROM s20;
SELECT state_flag('f20', 'h1'), state_flag('f20', 'h2');
-- a hydration without segments leaves the segments as they are
SELECT state_flags_apply_delta('f20', '{"events":[{"eventId":12,"type":"hydration","features":[{"name":"h3","enabled":true}]}]}');
SELECT group_concat(name), (SELECT group_concat(id) FROM s20) FROM f20;

-- 45d.5 the export of a table fed by deltas imports into another store
-- (here the local one) with the same answers
CREATE VIRTUAL TABLE lsegs USING state_segments();
CREATE VIRTUAL TABLE lfl USING state_flags(segments='lsegs');
SELECT state_flags_import('lfl', state_flags_export('f19'));
SELECT state_flag('lfl', 'delta.api.hydration', '{"appName":"abc"}'),
       state_flags_export('lfl') = state_flags_export('f19');

-- 45d.6 errors name the event and member, and apply nothing of the delta
SELECT state_flags_apply_delta('f20', NULL);
SELECT state_flags_apply_delta('f20', 'nope');
SELECT state_flags_apply_delta('f20', '{}');
SELECT state_flags_apply_delta('f20', '{"events":{}}');
SELECT state_flags_apply_delta('f20', '"hydration"');
SELECT state_flags_apply_delta('f20', '[1]');
SELECT state_flags_apply_delta('f20', '[{"type":"hydration","features":[]}]');
SELECT state_flags_apply_delta('f20', '[{"eventId":"1","type":"hydration","features":[]}]');
SELECT state_flags_apply_delta('f20', '[{"eventId":1}]');
SELECT state_flags_apply_delta('f20', '[{"eventId":1,"type":"feature-created"}]');
SELECT state_flags_apply_delta('f20', '[{"eventId":1,"type":"hydration"}]');
SELECT state_flags_apply_delta('f20', '[{"eventId":1,"type":"hydration","features":[{"name":"a"}]}]');
SELECT state_flags_apply_delta('f20', '[{"eventId":1,"type":"feature-updated"}]');
SELECT state_flags_apply_delta('f20', '[{"eventId":1,"type":"feature-removed","featureName":"h1"},{"eventId":2,"type":"feature-updated","feature":{"name":"b","enabled":true,"strategies":[{"name":"default","constraints":[{"contextName":"x","operator":5}]}]}}]');
SELECT state_flags_apply_delta('f20', '[{"eventId":1,"type":"feature-removed"}]');
SELECT state_flags_apply_delta('f20', '[{"eventId":1,"type":"segment-updated","segment":{"id":true}}]');
SELECT state_flags_apply_delta('f20', '[{"eventId":1,"type":"segment-removed","segmentId":"5"}]');
CREATE VIRTUAL TABLE nosegs USING state_flags(@OPTS:nosegs@);
SELECT state_flags_apply_delta('nosegs', '[{"eventId":1,"type":"segment-updated","segment":{"id":1}}]');
SELECT state_flags_apply_delta('nosegs', '[{"eventId":1,"type":"hydration","features":[],"segments":[{"id":1}]}]');
SELECT state_flags_apply_delta('nosegs', '[{"eventId":1,"type":"segment-removed","segmentId":1}]');
SELECT state_flags_apply_delta('s20', '[]');
SELECT group_concat(name), (SELECT group_concat(id) FROM s20) FROM f20;

-- 45d.7 inside the caller's transaction, rolled back with it
BEGIN;
SELECT state_flags_apply_delta('f20', '[{"eventId":13,"type":"feature-removed","featureName":"h1","project":"default"},{"eventId":14,"type":"segment-removed","segmentId":5}]');
SELECT group_concat(name), (SELECT count(*) FROM s20) FROM f20;
ROLLBACK;
SELECT group_concat(name), (SELECT group_concat(id) FROM s20) FROM f20;
