/** The API's shapes as the web app uses them (see openapi.json for the full contract). */

export type Role = 'admin' | 'author' | 'candidate';

export interface User {
  id: string;
  role: Role;
  name: string;
  email: string | null;
  district: string | null;
}

export interface SignIn {
  accessToken: string;
  tokenType: 'Bearer';
  expiresIn: number;
  refreshToken: string;
  user: User;
  bookingId?: string | null;
  /** On a candidate's access-code sign-in: their active bookings, what the start page shows. */
  bookings?: Page<Booking>;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface ExamSession {
  id: string;
  assessmentId: string;
  assessmentVersionId: string;
  assessmentTitle: string;
  ownerId: string;
  title: string;
  district: string;
  startsAt: string;
  endsAt: string;
  capacity: number;
  booked: number;
  seatsLeft: number;
  createdAt: string;
}

export interface Booking {
  id: string;
  sessionId: string;
  assessmentId: string;
  candidateId: string;
  status: 'active' | 'cancelled';
  createdAt: string;
  cancelledAt: string | null;
  attemptId: string | null;
  attemptStatus: AttemptStatus | null;
  candidate: { id: string; name: string; email: string | null };
  session: { id: string; title: string; district: string; startsAt: string; endsAt: string };
}

export type AttemptStatus = 'in_progress' | 'submitted' | 'graded';

export interface SavedAnswer {
  questionId: string;
  value: unknown;
  seq: number;
  savedAt: string;
}

export interface Attempt {
  id: string;
  bookingId: string;
  sessionId: string;
  status: AttemptStatus;
  startedAt: string;
  deadline: string;
  remainingS: number;
  serverTime: string;
  submittedAt: string | null;
  /** Only on a submit's answer: when to ask for the result first. */
  askResultInS?: number;
  answers: SavedAnswer[];
}

export interface AttemptSummary {
  id: string;
  bookingId: string;
  sessionId: string;
  status: AttemptStatus;
  startedAt: string;
  deadline: string;
  submittedAt: string | null;
}

export type QuestionType = 'single_choice' | 'multiple_response' | 'true_false' | 'short_text' | 'numeric';

export interface Option {
  id: string;
  text: string;
}

export interface PaperQuestion {
  id: string;
  type: QuestionType;
  stem: string;
  points: number;
  options?: Option[];
}

export interface Paper {
  attemptId: string;
  deadline: string;
  title: string;
  description: string;
  timeLimitS: number;
  maxScore: number;
  optionOrder: Record<string, string[]>;
  questions: PaperQuestion[];
}

export interface QuestionGrade {
  questionId: string;
  score: number;
  maxScore: number;
  correct: boolean;
  answered: boolean;
}

export type AttemptResult =
  | { status: AttemptStatus; released: false; reason: string; /** Not graded yet: when marking should be done. */ askAgainInS?: number }
  | {
      status: AttemptStatus;
      released: true;
      score: number;
      maxScore: number;
      gradedAt: string | null;
      grading: { score: number; maxScore: number; correctCount: number; answeredCount: number; questions: QuestionGrade[] };
    };

export type QuestionStatus = 'draft' | 'approved' | 'rejected';

export interface Citation {
  materialId?: string;
  page?: number;
  quote?: string;
}

export interface Question {
  id: string;
  type: QuestionType;
  stem: string;
  points: number;
  feedback: string | null;
  tags: string[];
  difficulty: 'easy' | 'medium' | 'hard' | null;
  status: QuestionStatus;
  source: Citation | null;
  options?: Option[];
  correct?: string | string[] | boolean;
  accepted?: string[];
  answer?: number;
  tolerance?: number;
  createdAt?: string;
}

export type MaterialStatus = 'stored' | 'extracting' | 'generating' | 'ready' | 'failed';

export interface Material {
  id: string;
  filename: string;
  status: MaterialStatus;
  stage: 'store' | 'extract' | 'generate' | 'finalize' | null;
  sizeBytes: number;
  pageCount: number | null;
  chunks: { done: number; total: number };
  questions: { created: number; dropped: number };
  error: { code: string; message: string } | null;
  createdAt: string;
  updatedAt: string;
  processedAt: string | null;
}

export type ReleasePolicy = 'on_submit' | 'after_session' | 'manual';

export interface VersionSummary {
  id: string;
  version: number;
  publishedAt: string;
  maxScore: number;
  questionCount: number;
}

export interface Assessment {
  id: string;
  title: string;
  description: string;
  timeLimitS: number;
  shuffleItems: boolean;
  shuffleOptions: boolean;
  releasePolicy: ReleasePolicy;
  items: ({ questionId: string } | { tag: string; count: number })[];
  latestVersion: number;
  resultsReleasedAt: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface AssessmentDetail extends Assessment {
  versions: VersionSummary[];
}

export interface ImportReport {
  total: number;
  created: number;
  existing: number;
  errors: number;
  rows: { line: number; status: 'created' | 'existing' | 'error'; error?: string; userId?: string; accessCode?: string }[];
}

export interface Operations {
  queues: { queue: string; waiting: number; active: number; delayed: number; dead: number }[];
  deadLetters: { queue: string; id: string; name: string; attempts: number; error: string; failedAt: string }[];
  ai: {
    requestsLastMinute: number;
    tokensLastMinute: number;
    tokensToday: number;
    limits: { requestsPerMinute: number; tokensPerMinute: number; tokensPerDay: number };
    breaker: unknown;
  };
  attempts: { active: number; submittedLastHour: number };
  http: { p99Ms: number | null; requests: number };
}

export interface HistogramBin {
  from: number;
  to: number;
  count: number;
}

export interface AssessmentResults {
  assessmentId: string;
  title: string;
  maxScore: number;
  attempts: number;
  submitted: number;
  districts: {
    district: string;
    candidates: number;
    submitted: number;
    mean: number | null;
    median: number | null;
    min: number | null;
    max: number | null;
    histogram: HistogramBin[];
  }[];
  questions: {
    questionId: string;
    stem: string;
    type: string;
    responses: number;
    facility: number | null;
    discrimination: number | null;
  }[];
}

export interface DemoAccount {
  role: string;
  login: string;
  secret: string;
}
