/**
 * The one way the web app talks to the API: JSON in and out, problem+json
 * errors turned into ApiError, and the access token refreshed once on a 401
 * (single-flight, so parallel requests never spend the same refresh token
 * twice — the server treats a reused refresh token as theft).
 */
import { ApiError, NetworkError } from './errors.ts';
import { fromSignIn, getSession, setSession } from './session.ts';
import type {
  AssessmentDetail,
  AssessmentResults,
  Assessment,
  Attempt,
  AttemptResult,
  AttemptSummary,
  Booking,
  DemoAccount,
  ExamSession,
  ImportReport,
  Material,
  Operations,
  Page,
  Paper,
  Question,
  ReleasePolicy,
  SignIn,
  VersionSummary,
} from './types.ts';

export const API = '/api/v1';

export { ApiError, NetworkError };

export interface RequestOptions {
  body?: unknown;
  /** Sent as is (FormData, text) instead of JSON. */
  rawBody?: BodyInit;
  contentType?: string;
  signal?: AbortSignal;
  auth?: boolean;
  keepalive?: boolean;
}

let refreshing: Promise<boolean> | null = null;

/** Exchange the refresh token for a new pair; false when the sign-in is over. */
export function refreshSession(): Promise<boolean> {
  refreshing ??= (async () => {
    const s = getSession();
    if (!s) return false;
    try {
      const res = await fetch(`${API}/auth/refresh`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ refreshToken: s.refreshToken }),
      });
      if (res.ok) {
        setSession(fromSignIn((await res.json()) as SignIn));
        return true;
      }
      // Another tab may have rotated the token a moment ago: use its result.
      const now = getSession();
      if (now && now.refreshToken !== s.refreshToken) return true;
      if (res.status === 401) setSession(null);
      return false;
    } catch {
      return false;
    }
  })().finally(() => {
    refreshing = null;
  });
  return refreshing;
}

async function toError(res: Response): Promise<ApiError> {
  const retryAfter = res.headers.get('retry-after');
  const retryAfterS = retryAfter !== null && /^\d+$/.test(retryAfter) ? Number(retryAfter) : null;
  let code = 'http_' + res.status;
  let message = res.statusText || `HTTP ${res.status}`;
  let errors: { path: string; message: string }[] = [];
  try {
    const p = (await res.json()) as { code?: string; detail?: string; title?: string; errors?: typeof errors };
    code = p.code ?? code;
    message = p.detail ?? p.title ?? message;
    errors = p.errors ?? [];
  } catch {
    // Not JSON (a proxy's error page): keep the status text.
  }
  return new ApiError(res.status, code, message, retryAfterS, errors);
}

/** A raw fetch of an API path (relative to /api/v1) with the bearer token and one refresh-and-retry on 401. */
export async function authorizedFetch(path: string, init: RequestInit = {}, auth = true): Promise<Response> {
  const send = async (): Promise<Response> => {
    const headers = new Headers(init.headers);
    const s = getSession();
    if (auth && s) headers.set('authorization', `Bearer ${s.accessToken}`);
    try {
      return await fetch(`${API}${path}`, { ...init, headers });
    } catch (err) {
      if (err instanceof DOMException && err.name === 'AbortError') throw err;
      throw new NetworkError(err instanceof Error ? err.message : String(err));
    }
  };
  const s = getSession();
  if (auth && s && s.expiresAt - Date.now() < 15_000) await refreshSession();
  let res = await send();
  if (res.status === 401 && auth && getSession()) {
    if (await refreshSession()) res = await send();
  }
  return res;
}

export async function request<T>(method: string, path: string, o: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = {};
  let body: BodyInit | undefined;
  if (o.rawBody !== undefined) {
    body = o.rawBody;
    if (o.contentType) headers['content-type'] = o.contentType;
  } else if (o.body !== undefined) {
    body = JSON.stringify(o.body);
    headers['content-type'] = 'application/json';
  }
  const res = await authorizedFetch(
    path,
    { method, headers, body, signal: o.signal ?? null, keepalive: o.keepalive ?? false },
    o.auth ?? true,
  );
  if (!res.ok) throw await toError(res);
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

/** Download a file the API serves to signed-in users (a plain link cannot send the token). */
export async function download(path: string, fallbackName: string): Promise<void> {
  const res = await authorizedFetch(path);
  if (!res.ok) throw await toError(res);
  const blob = await res.blob();
  const disposition = res.headers.get('content-disposition') ?? '';
  const name = /filename="([^"]+)"/.exec(disposition)?.[1] ?? fallbackName;
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/**
 * Upload with progress: fetch cannot report upload progress, XMLHttpRequest can.
 * Resolves with the parsed JSON body; rejects with ApiError or NetworkError.
 */
export async function uploadWithProgress<T>(path: string, form: FormData, onProgress: (fraction: number) => void): Promise<T> {
  const attempt = (): Promise<{ status: number; body: string; retryAfter: string | null }> =>
    new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open('POST', `${API}${path}`);
      const s = getSession();
      if (s) xhr.setRequestHeader('authorization', `Bearer ${s.accessToken}`);
      xhr.upload.onprogress = (e) => {
        if (e.lengthComputable) onProgress(e.loaded / e.total);
      };
      xhr.onload = () => resolve({ status: xhr.status, body: xhr.responseText, retryAfter: xhr.getResponseHeader('retry-after') });
      xhr.onerror = () => reject(new NetworkError('upload failed: no connection'));
      xhr.send(form);
    });
  const s = getSession();
  if (s && s.expiresAt - Date.now() < 30_000) await refreshSession();
  let r = await attempt();
  if (r.status === 401 && (await refreshSession())) r = await attempt();
  if (r.status >= 400) {
    const res = new Response(r.body, { status: r.status, headers: r.retryAfter ? { 'retry-after': r.retryAfter } : {} });
    throw await toError(res);
  }
  onProgress(1);
  return JSON.parse(r.body) as T;
}

const q = (params: Record<string, string | number | undefined>): string => {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) u.set(k, String(v));
  const s = u.toString();
  return s ? `?${s}` : '';
};

export const api = {
  /** Public settings of this server for the sign-in page (demo accounts in demo mode). */
  appConfig: async (): Promise<{ demoAccounts: DemoAccount[] }> => {
    try {
      const res = await fetch('/app-config.json');
      return res.ok ? ((await res.json()) as { demoAccounts: DemoAccount[] }) : { demoAccounts: [] };
    } catch {
      return { demoAccounts: [] };
    }
  },

  login: (email: string, password: string) => request<SignIn>('POST', '/auth/login', { body: { email, password }, auth: false }),
  accessCode: (code: string) => request<SignIn>('POST', '/auth/access-code', { body: { code }, auth: false }),
  logout: (refreshToken: string) => request<void>('POST', '/auth/logout', { body: { refreshToken }, auth: false }),

  sessions: (params: { assessmentId?: string; limit?: number } = {}) =>
    request<Page<ExamSession>>('GET', `/sessions${q({ limit: 200, ...params })}`),
  createSession: (body: { assessmentId: string; district: string; title?: string; startsAt: string; endsAt: string; capacity: number }) =>
    request<ExamSession>('POST', '/sessions', { body }),
  book: (sessionId: string) => request<{ booking: Booking; accessCode: string }>('POST', `/sessions/${sessionId}/bookings`),
  bookings: () => request<Page<Booking>>('GET', '/bookings?status=active&limit=100'),
  cancelBooking: (id: string) => request<Booking>('DELETE', `/bookings/${id}`),

  /** Start (or resume) a booking's attempt; the answer carries the paper, so the exam page need not ask for it. */
  startAttempt: (bookingId: string) => request<Attempt & { paper: Paper }>('POST', `/bookings/${bookingId}/attempt?include=paper`),
  attempts: () => request<AttemptSummary[]>('GET', '/attempts?limit=100'),
  attempt: (id: string) => request<Attempt>('GET', `/attempts/${id}`),
  /** The attempt and its paper in one request: the exam page after a reload. */
  resume: (id: string) => request<Attempt & { paper: Paper }>('GET', `/attempts/${id}?include=paper`),
  paper: (id: string) => request<Paper>('GET', `/attempts/${id}/paper`),
  saveAnswers: (id: string, answers: { questionId: string; value: unknown; seq: number }[], signal?: AbortSignal) =>
    request<{ acked: { questionId: string; seq: number }[]; serverTime: string }>('PUT', `/attempts/${id}/answers`, {
      body: { answers },
      ...(signal ? { signal } : {}),
    }),
  submit: (id: string, answers: { questionId: string; value: unknown; seq: number }[]) =>
    request<Attempt>('POST', `/attempts/${id}/submit`, { body: answers.length ? { answers } : {} }),
  result: (id: string) => request<AttemptResult>('GET', `/attempts/${id}/result`),

  materials: () => request<Page<Material>>('GET', '/materials?limit=50'),
  material: (id: string) => request<Material>('GET', `/materials/${id}`),
  materialQuestions: (id: string) => request<{ items: Question[] }>('GET', `/materials/${id}/questions`),
  materialPage: (id: string, page: number) =>
    request<{ materialId: string; page: number; text: string }>('GET', `/materials/${id}/pages/${page}`),

  questions: (params: { status?: string; limit?: number; cursor?: string } = {}) =>
    request<Page<Question>>('GET', `/questions${q({ limit: 200, ...params })}`),
  patchQuestion: (id: string, patch: Record<string, unknown>) => request<Question>('PATCH', `/questions/${id}`, { body: patch }),
  approve: (id: string) => request<Question>('POST', `/questions/${id}/approve`),
  reject: (id: string) => request<Question>('POST', `/questions/${id}/reject`),
  bulkApprove: (ids: string[]) =>
    request<{ approved: number; alreadyApproved: string[]; notFound: string[] }>('POST', '/questions/bulk-approve', { body: { ids } }),

  assessments: () => request<Page<Assessment>>('GET', '/assessments?limit=200'),
  assessment: (id: string) => request<AssessmentDetail>('GET', `/assessments/${id}`),
  createAssessment: (body: {
    title: string;
    description?: string;
    timeLimitS: number;
    shuffleItems: boolean;
    shuffleOptions: boolean;
    releasePolicy: ReleasePolicy;
    items: { questionId: string }[];
  }) => request<Assessment>('POST', '/assessments', { body }),
  publish: (id: string) => request<VersionSummary>('POST', `/assessments/${id}/publish`),
  releaseResults: (id: string) => request<Assessment>('POST', `/assessments/${id}/release-results`),
  results: (id: string) => request<AssessmentResults>('GET', `/assessments/${id}/results`),

  importCandidates: (csv: string) => request<ImportReport>('POST', '/candidates/import', { rawBody: csv, contentType: 'text/csv' }),

  operations: () => request<Operations>('GET', '/admin/operations'),
  retryDeadLetter: (queue: string, id: string) =>
    request<void>('POST', `/admin/dead-letters/${encodeURIComponent(queue)}/${encodeURIComponent(id)}/retry`),
};
