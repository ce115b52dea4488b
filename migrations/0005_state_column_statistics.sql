-- attempts.status holds three values, and examday's planner-statistics keeper
-- (src/platform/db/planner-stats.ts) re-analyzes that one column whenever a
-- tenth of the attempts changed: several times in every submit wave. At the
-- default statistics target (100) each such ANALYZE samples 30,000 rows; on
-- PostgreSQL at 28,000 candidates that took 144–335 ms of the database's CPU
-- in the middle of the wave. A target of 10 samples 3,000 rows, which still
-- counts three values exactly enough to plan by.
ALTER TABLE attempts ALTER COLUMN status SET STATISTICS 10;
