-- Core schema: tasks (versioned), runs, step results, logs, schedules, tokens, nodes.

CREATE TABLE tasks (
  name        text        NOT NULL,
  version     integer     NOT NULL,
  spec        jsonb       NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (name, version)
);

-- The current version of each live task; deleting a task removes its head only,
-- so past runs keep their definitions.
CREATE TABLE task_heads (
  name        text        PRIMARY KEY,
  version     integer     NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE runs (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  task             text        NOT NULL,
  task_version     integer     NOT NULL,
  queue            text        NOT NULL DEFAULT 'default',
  status           text        NOT NULL DEFAULT 'pending'
                   CHECK (status IN ('pending','running','succeeded','failed','cancelled')),
  params           jsonb       NOT NULL DEFAULT '{}',
  trigger          text        NOT NULL CHECK (trigger IN ('api','schedule','retry','cli')),
  schedule_id      text,
  scheduled_for    timestamptz,
  attempt          integer     NOT NULL DEFAULT 0,
  max_attempts     integer     NOT NULL DEFAULT 1,
  priority         integer     NOT NULL DEFAULT 0,
  concurrency_limit integer    NOT NULL DEFAULT 0,
  idempotency_key  text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  available_at     timestamptz NOT NULL DEFAULT now(),
  started_at       timestamptz,
  finished_at      timestamptz,
  node             text,
  lease_owner      text,
  lease_expires_at timestamptz,
  cancel_requested boolean     NOT NULL DEFAULT false,
  output           text,
  error_code       text,
  error_message    text,
  retry_of         bigint
) WITH (fillfactor = 80,
        autovacuum_vacuum_scale_factor = 0.02,
        autovacuum_analyze_scale_factor = 0.02,
        autovacuum_vacuum_cost_limit = 2000);

-- The claim path: pending runs, highest priority first, oldest first.
CREATE INDEX runs_pending ON runs (priority DESC, available_at, id) WHERE status = 'pending';
CREATE INDEX runs_pending_limited ON runs (task)
  WHERE status = 'pending' AND concurrency_limit > 0;
-- Running runs: per-task concurrency counts and lease expiry scans. The hot
-- table has few indexes on purpose: every status change inserts into each
-- index whose predicate the new row version matches.
CREATE INDEX runs_running_task ON runs (task) WHERE status = 'running';
CREATE INDEX runs_task_id ON runs (task, id DESC);
CREATE INDEX runs_schedule_active ON runs (schedule_id)
  WHERE schedule_id IS NOT NULL AND status IN ('pending', 'running');
CREATE UNIQUE INDEX runs_idempotency ON runs (task, idempotency_key)
  WHERE idempotency_key IS NOT NULL;
-- Guarantee 3: one run per (schedule, fire time), enforced by the database.
CREATE UNIQUE INDEX runs_schedule_fire ON runs (schedule_id, scheduled_for)
  WHERE scheduled_for IS NOT NULL;

-- Step results, one row per (run, attempt, step); the key makes a second
-- recording of the same attempt impossible.
CREATE TABLE run_steps (
  run_id        bigint      NOT NULL,
  attempt       integer     NOT NULL,
  idx           integer     NOT NULL,
  name          text        NOT NULL,
  status        text        NOT NULL,
  started_at    timestamptz,
  finished_at   timestamptz,
  exit_code     integer,
  http_status   integer,
  output        text,
  error_code    text,
  error_message text,
  PRIMARY KEY (run_id, attempt, idx)
);

CREATE TABLE run_logs (
  run_id  bigint      NOT NULL,
  seq     bigint      GENERATED ALWAYS AS IDENTITY,
  attempt integer     NOT NULL,
  ts      timestamptz NOT NULL,
  stream  text        NOT NULL,
  step    text,
  line    text        NOT NULL,
  PRIMARY KEY (run_id, seq)
);

CREATE TABLE schedules (
  id            text        PRIMARY KEY,
  task          text        NOT NULL,
  cron          text        NOT NULL,
  timezone      text        NOT NULL DEFAULT 'UTC',
  params        jsonb       NOT NULL DEFAULT '{}',
  enabled       boolean     NOT NULL DEFAULT true,
  misfire       text        NOT NULL DEFAULT 'run_once',
  overlap       text        NOT NULL DEFAULT 'allow',
  next_fire_at  timestamptz,
  last_fired_at timestamptz,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX schedules_due ON schedules (next_fire_at) WHERE enabled;

CREATE TABLE api_tokens (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name       text        NOT NULL,
  hash       text        NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE nodes (
  name        text        PRIMARY KEY,
  incarnation text        NOT NULL,
  roles       text[]      NOT NULL,
  started_at  timestamptz NOT NULL,
  last_seen   timestamptz NOT NULL,
  capacity    integer     NOT NULL DEFAULT 0,
  active      integer     NOT NULL DEFAULT 0,
  status      text        NOT NULL DEFAULT 'up'
);
