-- Core schema: accounts, question bank, assessments, sessions and booking,
-- attempts and responses, the embedded job queue, audit log.
-- Runs identically on PGlite and PostgreSQL 15+.

CREATE TABLE users (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  role          text NOT NULL CHECK (role IN ('admin', 'author', 'candidate')),
  email         text,
  name          text NOT NULL,
  district      text,
  password_hash text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  disabled_at   timestamptz
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE INDEX users_role_district_idx ON users (role, district);

-- Rotating refresh tokens; only a SHA-256 of the token is stored. A token used
-- twice revokes its whole family (stolen-token detection).
CREATE TABLE refresh_tokens (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  family_id   uuid NOT NULL,
  token_hash  text NOT NULL UNIQUE,
  expires_at  timestamptz NOT NULL,
  used_at     timestamptz,
  revoked_at  timestamptz,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (user_id);

CREATE TABLE questions (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  owner_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  type        text NOT NULL CHECK (type IN ('single_choice', 'multiple_response', 'true_false', 'short_text', 'numeric')),
  stem        text NOT NULL,
  body        jsonb NOT NULL,
  points      numeric(8, 2) NOT NULL DEFAULT 1 CHECK (points > 0),
  feedback    text,
  tags        text[] NOT NULL DEFAULT '{}',
  status      text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'approved', 'rejected')),
  difficulty  text CHECK (difficulty IN ('easy', 'medium', 'hard')),
  source      jsonb,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX questions_owner_idx ON questions (owner_id, created_at DESC);
CREATE INDEX questions_tags_idx ON questions USING gin (tags);

CREATE TABLE assessments (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  owner_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  title            text NOT NULL,
  description      text NOT NULL DEFAULT '',
  items            jsonb NOT NULL DEFAULT '[]',
  time_limit_s     integer NOT NULL CHECK (time_limit_s > 0),
  shuffle_items    boolean NOT NULL DEFAULT false,
  shuffle_options  boolean NOT NULL DEFAULT false,
  release_policy   text NOT NULL DEFAULT 'on_submit' CHECK (release_policy IN ('on_submit', 'after_session', 'manual')),
  results_released_at timestamptz,
  latest_version   integer NOT NULL DEFAULT 0,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX assessments_owner_idx ON assessments (owner_id, created_at DESC);

-- A published version is immutable: `content` is a frozen snapshot of every
-- question (answers included, for grading) and the assessment's settings.
CREATE TABLE assessment_versions (
  id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  assessment_id  uuid NOT NULL REFERENCES assessments (id) ON DELETE CASCADE,
  version        integer NOT NULL CHECK (version > 0),
  content        jsonb NOT NULL,
  max_score      numeric(10, 2) NOT NULL,
  published_at   timestamptz NOT NULL DEFAULT now(),
  UNIQUE (assessment_id, version)
);

-- `booked` can never pass `capacity`: the CHECK makes the database refuse an
-- overbooking whatever the application does.
CREATE TABLE exam_sessions (
  id                     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  assessment_id          uuid NOT NULL REFERENCES assessments (id) ON DELETE CASCADE,
  assessment_version_id  uuid NOT NULL REFERENCES assessment_versions (id),
  owner_id               uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  title                  text NOT NULL DEFAULT '',
  district               text NOT NULL,
  starts_at              timestamptz NOT NULL,
  ends_at                timestamptz NOT NULL,
  capacity               integer NOT NULL CHECK (capacity > 0),
  booked                 integer NOT NULL DEFAULT 0,
  created_at             timestamptz NOT NULL DEFAULT now(),
  CHECK (ends_at > starts_at),
  CHECK (booked >= 0 AND booked <= capacity)
);
CREATE INDEX exam_sessions_district_idx ON exam_sessions (district, starts_at);
CREATE INDEX exam_sessions_assessment_idx ON exam_sessions (assessment_id);

-- At most one active booking per candidate and assessment, enforced by a partial unique index.
CREATE TABLE bookings (
  id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  session_id     uuid NOT NULL REFERENCES exam_sessions (id) ON DELETE CASCADE,
  assessment_id  uuid NOT NULL REFERENCES assessments (id) ON DELETE CASCADE,
  candidate_id   uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  status         text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'cancelled')),
  created_at     timestamptz NOT NULL DEFAULT now(),
  cancelled_at   timestamptz
);
CREATE UNIQUE INDEX bookings_one_active_per_assessment ON bookings (assessment_id, candidate_id) WHERE status = 'active';
CREATE INDEX bookings_session_idx ON bookings (session_id);
CREATE INDEX bookings_candidate_idx ON bookings (candidate_id);

-- Candidate sign-in codes: high-entropy, stored as SHA-256 (a fast hash is
-- enough for 80+ random bits and keeps the 09:00 login storm cheap).
CREATE TABLE access_codes (
  code_hash    text PRIMARY KEY,
  user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  booking_id   uuid REFERENCES bookings (id) ON DELETE CASCADE,
  expires_at   timestamptz,
  revoked_at   timestamptz,
  created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX access_codes_user_idx ON access_codes (user_id);

CREATE TABLE attempts (
  id                     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  booking_id             uuid NOT NULL UNIQUE REFERENCES bookings (id) ON DELETE CASCADE,
  candidate_id           uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  session_id             uuid NOT NULL REFERENCES exam_sessions (id) ON DELETE CASCADE,
  assessment_version_id  uuid NOT NULL REFERENCES assessment_versions (id),
  seed                   integer NOT NULL,
  status                 text NOT NULL DEFAULT 'in_progress' CHECK (status IN ('in_progress', 'submitted', 'graded')),
  started_at             timestamptz NOT NULL DEFAULT now(),
  deadline_at            timestamptz NOT NULL,
  submitted_at           timestamptz,
  submit_reason          text CHECK (submit_reason IN ('candidate', 'deadline')),
  score                  numeric(10, 2),
  max_score              numeric(10, 2),
  graded_at              timestamptz,
  grading                jsonb
);
CREATE INDEX attempts_candidate_idx ON attempts (candidate_id);
CREATE INDEX attempts_session_idx ON attempts (session_id, status);

-- One row per (attempt, question). `seq` is the client's per-question sequence
-- number: an upsert only wins when its seq is higher, so retries are idempotent
-- and stale writes are ignored.
CREATE TABLE responses (
  attempt_id   uuid NOT NULL REFERENCES attempts (id) ON DELETE CASCADE,
  question_id  text NOT NULL,
  value        jsonb NOT NULL,
  seq          integer NOT NULL CHECK (seq >= 0),
  saved_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (attempt_id, question_id)
);

-- Embedded durable job queue (the default when REDIS_URL is not set).
CREATE TABLE jobs (
  id               bigserial PRIMARY KEY,
  queue            text NOT NULL,
  name             text NOT NULL,
  data             jsonb NOT NULL DEFAULT '{}',
  status           text NOT NULL DEFAULT 'waiting' CHECK (status IN ('waiting', 'active', 'completed', 'dead')),
  priority         integer NOT NULL DEFAULT 0,
  run_at           timestamptz NOT NULL DEFAULT now(),
  attempts         integer NOT NULL DEFAULT 0,
  max_attempts     integer NOT NULL DEFAULT 5,
  backoff_ms       integer NOT NULL DEFAULT 1000,
  idempotency_key  text,
  locked_by        text,
  locked_until     timestamptz,
  last_error       text,
  result           jsonb,
  created_at       timestamptz NOT NULL DEFAULT now(),
  finished_at      timestamptz
);
CREATE UNIQUE INDEX jobs_idempotency_key ON jobs (queue, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX jobs_ready_idx ON jobs (queue, priority, run_at, id) WHERE status = 'waiting';
CREATE INDEX jobs_lease_idx ON jobs (locked_until) WHERE status = 'active';

CREATE TABLE audit_log (
  id         bigserial PRIMARY KEY,
  actor_id   uuid,
  action     text NOT NULL,
  subject    text,
  data       jsonb,
  at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_at_idx ON audit_log (at DESC);

-- Key/value settings owned by the platform (e.g. the embedded JWT secret).
CREATE TABLE settings (
  key    text PRIMARY KEY,
  value  text NOT NULL
);
