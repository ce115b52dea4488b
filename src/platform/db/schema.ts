/**
 * Row types for Kysely, mirroring `migrations/*.sql`. Keep the two in step:
 * a column added in SQL is added here in the same commit.
 */
import type { ColumnType, Generated } from 'kysely';

/** A timestamptz: written as Date or ISO string, read back as Date. */
type Timestamp = ColumnType<Date, Date | string, Date | string>;
type DefaultTimestamp = ColumnType<Date, Date | string | undefined, Date | string>;
/** numeric comes back from both drivers as a string to keep precision. */
type Numeric = ColumnType<string, number | string, number | string>;
type Json<T = unknown> = ColumnType<T, string, string>;

export type Role = 'admin' | 'author' | 'candidate';

export interface UsersTable {
  id: Generated<string>;
  role: Role;
  email: string | null;
  name: string;
  district: string | null;
  password_hash: string | null;
  created_at: DefaultTimestamp;
  disabled_at: Timestamp | null;
}

export interface RefreshTokensTable {
  id: Generated<string>;
  user_id: string;
  family_id: string;
  token_hash: string;
  expires_at: Timestamp;
  used_at: Timestamp | null;
  revoked_at: Timestamp | null;
  created_at: DefaultTimestamp;
}

export type QuestionType = 'single_choice' | 'multiple_response' | 'true_false' | 'short_text' | 'numeric';
export type QuestionStatus = 'draft' | 'approved' | 'rejected';

export interface QuestionsTable {
  id: Generated<string>;
  owner_id: string;
  type: QuestionType;
  stem: string;
  body: Json;
  points: Numeric;
  feedback: string | null;
  tags: ColumnType<string[], string[] | undefined, string[]>;
  status: ColumnType<QuestionStatus, QuestionStatus | undefined, QuestionStatus>;
  difficulty: 'easy' | 'medium' | 'hard' | null;
  source: Json | null;
  created_at: DefaultTimestamp;
  updated_at: DefaultTimestamp;
}

export type ReleasePolicy = 'on_submit' | 'after_session' | 'manual';

export interface AssessmentsTable {
  id: Generated<string>;
  owner_id: string;
  title: string;
  description: ColumnType<string, string | undefined, string>;
  items: Json;
  time_limit_s: number;
  shuffle_items: ColumnType<boolean, boolean | undefined, boolean>;
  shuffle_options: ColumnType<boolean, boolean | undefined, boolean>;
  release_policy: ColumnType<ReleasePolicy, ReleasePolicy | undefined, ReleasePolicy>;
  results_released_at: Timestamp | null;
  latest_version: ColumnType<number, number | undefined, number>;
  created_at: DefaultTimestamp;
  updated_at: DefaultTimestamp;
}

export interface AssessmentVersionsTable {
  id: Generated<string>;
  assessment_id: string;
  version: number;
  content: Json;
  max_score: Numeric;
  published_at: DefaultTimestamp;
}

export interface ExamSessionsTable {
  id: Generated<string>;
  assessment_id: string;
  assessment_version_id: string;
  owner_id: string;
  title: ColumnType<string, string | undefined, string>;
  district: string;
  starts_at: Timestamp;
  ends_at: Timestamp;
  capacity: number;
  booked: ColumnType<number, number | undefined, number>;
  created_at: DefaultTimestamp;
}

export interface BookingsTable {
  id: Generated<string>;
  session_id: string;
  assessment_id: string;
  candidate_id: string;
  status: ColumnType<'active' | 'cancelled', 'active' | 'cancelled' | undefined, 'active' | 'cancelled'>;
  created_at: DefaultTimestamp;
  cancelled_at: Timestamp | null;
}

export interface AccessCodesTable {
  code_hash: string;
  user_id: string;
  booking_id: string | null;
  expires_at: Timestamp | null;
  revoked_at: Timestamp | null;
  created_at: DefaultTimestamp;
}

export type AttemptStatus = 'in_progress' | 'submitted' | 'graded';

export interface AttemptsTable {
  id: Generated<string>;
  booking_id: string;
  candidate_id: string;
  session_id: string;
  assessment_version_id: string;
  seed: number;
  status: ColumnType<AttemptStatus, AttemptStatus | undefined, AttemptStatus>;
  started_at: DefaultTimestamp;
  deadline_at: Timestamp;
  submitted_at: Timestamp | null;
  submit_reason: 'candidate' | 'deadline' | null;
  score: Numeric | null;
  max_score: Numeric | null;
  graded_at: Timestamp | null;
  grading: Json | null;
}

export interface ResponsesTable {
  attempt_id: string;
  question_id: string;
  value: Json;
  seq: number;
  saved_at: DefaultTimestamp;
}

export type JobStatus = 'waiting' | 'active' | 'completed' | 'dead';

export interface JobsTable {
  /** bigserial: both drivers return int8 as a string. */
  id: ColumnType<string, never, never>;
  queue: string;
  name: string;
  data: Json;
  status: ColumnType<JobStatus, JobStatus | undefined, JobStatus>;
  priority: ColumnType<number, number | undefined, number>;
  run_at: DefaultTimestamp;
  attempts: ColumnType<number, number | undefined, number>;
  max_attempts: ColumnType<number, number | undefined, number>;
  backoff_ms: ColumnType<number, number | undefined, number>;
  idempotency_key: string | null;
  locked_by: string | null;
  locked_until: Timestamp | null;
  last_error: string | null;
  result: Json | null;
  created_at: DefaultTimestamp;
  finished_at: Timestamp | null;
}

export interface AuditLogTable {
  id: ColumnType<string, never, never>;
  actor_id: string | null;
  action: string;
  subject: string | null;
  data: Json | null;
  at: DefaultTimestamp;
}

export interface SettingsTable {
  key: string;
  value: string;
}

export interface Database {
  users: UsersTable;
  refresh_tokens: RefreshTokensTable;
  questions: QuestionsTable;
  assessments: AssessmentsTable;
  assessment_versions: AssessmentVersionsTable;
  exam_sessions: ExamSessionsTable;
  bookings: BookingsTable;
  access_codes: AccessCodesTable;
  attempts: AttemptsTable;
  responses: ResponsesTable;
  jobs: JobsTable;
  audit_log: AuditLogTable;
  settings: SettingsTable;
}

// ─── Content pipeline (migrations/0003_materials.sql) ───────────────────────
// Added by declaration merging so the tables above stay as they were written.

export type Plan = 'free' | 'standard' | 'unlimited';

export interface UsersTable {
  plan: ColumnType<Plan, Plan | undefined, Plan>;
}

export interface QuestionsTable {
  material_id: string | null;
  /** `<material>:<chunk>:<n>`: unique, so a re-run chunk job inserts nothing twice. */
  generation_key: string | null;
}

export type MaterialStatus = 'stored' | 'extracting' | 'generating' | 'ready' | 'failed';
export type MaterialStage = 'extract' | 'generate' | 'finalize';

export interface MaterialsTable {
  id: string;
  owner_id: string;
  filename: string;
  object_key: string;
  sha256: string;
  size_bytes: number;
  page_count: number | null;
  status: ColumnType<MaterialStatus, MaterialStatus | undefined, MaterialStatus>;
  failed_stage: MaterialStage | null;
  error_code: string | null;
  error_message: string | null;
  chunks_total: ColumnType<number, number | undefined, number>;
  chunks_done: ColumnType<number, number | undefined, number>;
  questions_created: ColumnType<number, number | undefined, number>;
  questions_dropped: ColumnType<number, number | undefined, number>;
  params: Json;
  priority: ColumnType<number, number | undefined, number>;
  retries: ColumnType<number, number | undefined, number>;
  created_at: DefaultTimestamp;
  updated_at: DefaultTimestamp;
  processed_at: Timestamp | null;
  source_deleted_at: Timestamp | null;
}

export interface MaterialPagesTable {
  material_id: string;
  page: number;
  text: string;
}

export interface MaterialChunksTable {
  material_id: string;
  chunk: number;
  questions: number;
  dropped: number;
  done_at: DefaultTimestamp;
}

export interface GenerationCacheTable {
  key: string;
  result: Json;
  created_at: DefaultTimestamp;
}

/** bigint token counters come back as strings from both drivers. */
type BigCounter = ColumnType<string, number | undefined, number | string>;

export interface AiUsageTable {
  user_id: string;
  /** A date; written as 'YYYY-MM-DD'. */
  day: ColumnType<Date, string, string>;
  requests: ColumnType<number, number | undefined, number>;
  prompt_tokens: BigCounter;
  completion_tokens: BigCounter;
  questions: ColumnType<number, number | undefined, number>;
}

export interface Database {
  materials: MaterialsTable;
  material_pages: MaterialPagesTable;
  material_chunks: MaterialChunksTable;
  generation_cache: GenerationCacheTable;
  ai_usage: AiUsageTable;
}
