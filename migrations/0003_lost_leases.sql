-- A run whose node dies, hangs past its lease or is declared down goes back
-- to pending without using the task's retry budget; this counts those
-- executions, so a run that takes its node down every time can be failed at a cap.
ALTER TABLE runs ADD COLUMN lost_leases integer NOT NULL DEFAULT 0;
