-- Content pipeline: uploaded PDFs (materials), their extracted text, the
-- generation cache shared by every author, per-user AI usage, and the links
-- from generated questions back to the material they came from.

ALTER TABLE users ADD COLUMN plan text NOT NULL DEFAULT 'standard' CHECK (plan IN ('free', 'standard', 'unlimited'));

-- One row per uploaded PDF. The same bytes uploaded twice by one owner are one
-- material (UNIQUE owner_id, sha256); another owner gets their own row (and
-- shares only the generation cache). `failed_stage` says where to resume on
-- an admin retry; `retries` makes each retry's job keys new.
CREATE TABLE materials (
  id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  owner_id           uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  filename           text NOT NULL,
  object_key         text NOT NULL,
  sha256             text NOT NULL,
  size_bytes         integer NOT NULL CHECK (size_bytes >= 0),
  page_count         integer,
  status             text NOT NULL DEFAULT 'stored' CHECK (status IN ('stored', 'extracting', 'generating', 'ready', 'failed')),
  failed_stage       text CHECK (failed_stage IN ('extract', 'generate', 'finalize')),
  error_code         text,
  error_message      text,
  chunks_total       integer NOT NULL DEFAULT 0,
  chunks_done        integer NOT NULL DEFAULT 0,
  questions_created  integer NOT NULL DEFAULT 0,
  questions_dropped  integer NOT NULL DEFAULT 0,
  params             jsonb NOT NULL,
  priority           integer NOT NULL DEFAULT 1,
  retries            integer NOT NULL DEFAULT 0,
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now(),
  processed_at       timestamptz,
  source_deleted_at  timestamptz,
  UNIQUE (owner_id, sha256)
);
CREATE INDEX materials_owner_idx ON materials (owner_id, created_at DESC);

CREATE TABLE material_pages (
  material_id  uuid NOT NULL REFERENCES materials (id) ON DELETE CASCADE,
  page         integer NOT NULL CHECK (page > 0),
  text         text NOT NULL,
  PRIMARY KEY (material_id, page)
);

-- A chunk counts as done exactly once, however often its job runs (the queue
-- delivers at least once): the insert into this table and the increment of
-- materials.chunks_done happen in one transaction, only when the row is new.
CREATE TABLE material_chunks (
  material_id  uuid NOT NULL REFERENCES materials (id) ON DELETE CASCADE,
  chunk        integer NOT NULL CHECK (chunk >= 0),
  questions    integer NOT NULL,
  dropped      integer NOT NULL,
  done_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (material_id, chunk)
);

-- Identical work (same chunk text, parameters and model) is generated once.
CREATE TABLE generation_cache (
  key         text PRIMARY KEY,
  result      jsonb NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE ai_usage (
  user_id            uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  day                date NOT NULL,
  requests           integer NOT NULL DEFAULT 0,
  prompt_tokens      bigint NOT NULL DEFAULT 0,
  completion_tokens  bigint NOT NULL DEFAULT 0,
  questions          integer NOT NULL DEFAULT 0,
  PRIMARY KEY (user_id, day)
);

ALTER TABLE questions ADD COLUMN material_id uuid REFERENCES materials (id) ON DELETE SET NULL;
ALTER TABLE questions ADD COLUMN generation_key text;
-- Re-running a chunk's job never duplicates its questions.
CREATE UNIQUE INDEX questions_generation_key ON questions (generation_key) WHERE generation_key IS NOT NULL;
CREATE INDEX questions_material_idx ON questions (material_id) WHERE material_id IS NOT NULL;
