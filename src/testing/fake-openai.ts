/**
 * A fake OpenAI-compatible provider for tests and benchmarks: a real
 * `node:http` server on 127.0.0.1 speaking enough of the chat completions
 * protocol for the official SDK (`POST /v1/chat/completions`,
 * `GET /v1/models`). It answers well — questions built by the offline
 * generator from the pages in the prompt, quoting real sentences — or fails
 * in the ways real providers fail, so error mapping, retries, Retry-After
 * and the citation check can be exercised without a network or a key.
 *
 * It counts requests and tokens and can enforce a requests-per-window limit
 * itself (answering 429 and recording each violation), which is how the
 * pipeline benchmark proves a cluster of workers never exceeds its budget.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { QUESTION_TYPES, type QuestionType } from '../modules/questions/model.ts';
import type { PageText } from '../platform/generator/index.ts';
import { generateOffline } from '../platform/generator/offline.ts';
import { toWireQuestion, type WireQuestion } from '../platform/generator/openai.ts';

/**
 * - `good`: a valid reply built from the prompt's pages.
 * - `rate_limited`: 429 with `retry-after` and `retry-after-ms`.
 * - `server_error` / `unavailable`: 500 / 503.
 * - `slow`: a good reply after `slowMs` (longer than a client's timeout).
 * - `malformed`: content that is not JSON (a good reply cut in half).
 * - `schema_invalid`: JSON in the wrong shape.
 * - `bad_quotes`: a good reply in which every second question quotes a sentence not on the page.
 * - `unauthorized`: 401, as for a wrong key.
 * - `bad_request`: 400, as for a context that is too long.
 */
export type FakeMode =
  | 'good'
  | 'rate_limited'
  | 'server_error'
  | 'unavailable'
  | 'slow'
  | 'malformed'
  | 'schema_invalid'
  | 'bad_quotes'
  | 'unauthorized'
  | 'bad_request';

export interface FakeOpenAIOptions {
  /** One mode, or a sequence: the n-th chat request gets the n-th mode, and the last one repeats. Default `good`. */
  mode?: FakeMode | readonly FakeMode[];
  /** Enforce at most `requests` chat requests per `windowMs` (default 60 000): over it, 429 and a recorded violation. */
  rateLimit?: { requests: number; windowMs?: number };
  /** When set, requests must carry `Authorization: Bearer <apiKey>`, else 401. */
  apiKey?: string;
  /** Delay of the `slow` mode (default 10 s). */
  slowMs?: number;
  /** Retry-After sent by the `rate_limited` mode (default 2 000 ms). */
  retryAfterMs?: number;
  /** Extra delay before every good reply, to model provider latency in benchmarks (default 0). */
  latencyMs?: number;
  /** Model name reported in replies (default `fake-model`). */
  model?: string;
  /** Keep each request's parsed body in `requests()` (default true; benchmarks turn it off to bound memory). */
  keepBodies?: boolean;
}

export interface FakeRequest {
  /** `Date.now()` at arrival. */
  at: number;
  method: string;
  path: string;
  /** What the request got: a mode, or why it was refused before a mode applied. */
  outcome: FakeMode | 'rate_limit_exceeded' | 'auth_required' | 'not_found' | 'invalid_body' | 'models';
  status: number;
  promptTokens: number;
  completionTokens: number;
  /** Questions whose quote the `bad_quotes` mode replaced. */
  corruptedQuotes?: number;
  body?: unknown;
}

export interface RateLimitViolation {
  at: number;
  /** Chat requests already accepted inside the window when this one arrived. */
  inWindow: number;
  limit: number;
}

export interface FakeOpenAIStats {
  /** Chat completion requests received (including refused ones). */
  requests: number;
  /** Chat completion requests answered 200. */
  completions: number;
  promptTokens: number;
  completionTokens: number;
  rateLimitViolations: number;
  /** Most chat requests accepted within one window at any moment. */
  peakInWindow: number;
}

export interface FakeOpenAI {
  /** Base URL for the SDK, ending in `/v1`. */
  url: string;
  /** Switch mode (or start a new sequence from its first entry). */
  setMode(mode: FakeMode | readonly FakeMode[]): void;
  requests(): FakeRequest[];
  stats(): FakeOpenAIStats;
  violations(): RateLimitViolation[];
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 20 * 1024 * 1024;
const BAD_QUOTE = 'This sentence was invented by the model and stands on no page of the material.';

export async function startFakeOpenAI(options: FakeOpenAIOptions = {}): Promise<FakeOpenAI> {
  const model = options.model ?? 'fake-model';
  const keepBodies = options.keepBodies ?? true;
  let sequence: readonly FakeMode[] = toSequence(options.mode ?? 'good');
  let step = 0;
  const log: FakeRequest[] = [];
  const violations: RateLimitViolation[] = [];
  const accepted: number[] = [];
  let peakInWindow = 0;
  const timers = new Set<NodeJS.Timeout>();

  const sleep = (ms: number, res: ServerResponse): Promise<boolean> =>
    new Promise((resolve) => {
      if (ms <= 0) return resolve(true);
      const timer = setTimeout(() => {
        timers.delete(timer);
        resolve(true);
      }, ms);
      timers.add(timer);
      // A client that gave up (timeout) must not keep a timer, or close() would wait for it.
      res.once('close', () => {
        clearTimeout(timer);
        timers.delete(timer);
        resolve(false);
      });
    });

  async function chat(req: IncomingMessage, res: ServerResponse, entry: FakeRequest): Promise<void> {
    const limit = options.rateLimit;
    if (limit) {
      const now = Date.now();
      const windowMs = limit.windowMs ?? 60_000;
      while (accepted.length > 0 && (accepted[0] as number) <= now - windowMs) accepted.shift();
      if (accepted.length >= limit.requests) {
        violations.push({ at: now, inWindow: accepted.length, limit: limit.requests });
        const waitMs = (accepted[0] as number) + windowMs - now;
        entry.outcome = 'rate_limit_exceeded';
        req.resume();
        return sendError(res, entry, 429, 'rate_limit_exceeded', `Rate limit of ${limit.requests} requests per ${windowMs} ms exceeded`, retryHeaders(waitMs));
      }
      accepted.push(now);
      peakInWindow = Math.max(peakInWindow, accepted.length);
    }

    let body: ChatBody;
    try {
      body = parseChatBody(await readBody(req));
    } catch (err) {
      entry.outcome = 'invalid_body';
      return sendError(res, entry, 400, 'invalid_request_error', (err as Error).message);
    }
    if (keepBodies) entry.body = body;

    const mode = sequence[Math.min(step, sequence.length - 1)] as FakeMode;
    step++;
    entry.outcome = mode;
    switch (mode) {
      case 'rate_limited':
        return sendError(res, entry, 429, 'rate_limit_exceeded', 'Rate limit reached for requests', retryHeaders(options.retryAfterMs ?? 2000));
      case 'server_error':
        return sendError(res, entry, 500, 'server_error', 'The server had an error while processing your request.');
      case 'unavailable':
        return sendError(res, entry, 503, 'server_error', 'The engine is currently overloaded, please try again later.');
      case 'unauthorized':
        return sendError(res, entry, 401, 'invalid_api_key', 'Incorrect API key provided.');
      case 'bad_request':
        return sendError(res, entry, 400, 'context_length_exceeded', "This model's maximum context length was exceeded.");
      case 'slow':
        if (!(await sleep(options.slowMs ?? 10_000, res))) return;
        break;
      default:
        if (!(await sleep(options.latencyMs ?? 0, res))) return;
    }

    const questions = answerFor(body);
    let content: string;
    if (mode === 'malformed') {
      const json = JSON.stringify({ questions });
      content = json.slice(0, Math.max(1, Math.floor(json.length / 2)));
    } else if (mode === 'schema_invalid') {
      content = JSON.stringify({ questions: questions.map((q) => ({ question: q.stem, answer: 'see page', page: String(q.source.page) })) });
      if (questions.length === 0) content = JSON.stringify({ items: [] });
    } else if (mode === 'bad_quotes') {
      let corrupted = 0;
      const altered = questions.map((q, i) => {
        if (i % 2 === 0) return q;
        corrupted++;
        return { ...q, source: { ...q.source, quote: BAD_QUOTE } };
      });
      entry.corruptedQuotes = corrupted;
      content = JSON.stringify({ questions: altered });
    } else {
      content = JSON.stringify({ questions });
    }

    entry.promptTokens = estimateTokens(body.messages.map((m) => m.content).join('')) + 4 * body.messages.length;
    entry.completionTokens = estimateTokens(content);
    sendJson(res, entry, 200, {
      id: `chatcmpl-fake-${log.length}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model,
      choices: [{ index: 0, message: { role: 'assistant', content, refusal: null }, finish_reason: 'stop', logprobs: null }],
      usage: {
        prompt_tokens: entry.promptTokens,
        completion_tokens: entry.completionTokens,
        total_tokens: entry.promptTokens + entry.completionTokens,
      },
    });
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const entry: FakeRequest = { at: Date.now(), method: req.method ?? 'GET', path, outcome: 'not_found', status: 0, promptTokens: 0, completionTokens: 0 };
    log.push(entry);
    if (options.apiKey !== undefined && req.headers.authorization !== `Bearer ${options.apiKey}`) {
      entry.outcome = 'auth_required';
      req.resume();
      return sendError(res, entry, 401, 'invalid_api_key', 'Incorrect API key provided.');
    }
    if (req.method === 'POST' && path === '/v1/chat/completions') return chat(req, res, entry);
    req.resume();
    if (req.method === 'GET' && path === '/v1/models') {
      entry.outcome = 'models';
      return sendJson(res, entry, 200, { object: 'list', data: [{ id: model, object: 'model', created: 0, owned_by: 'examday-fake' }] });
    }
    return sendError(res, entry, 404, 'not_found', `no route ${req.method ?? ''} ${path}`);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: String(err), type: 'server_error', param: null, code: null } }));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/v1`,
    setMode(mode) {
      sequence = toSequence(mode);
      step = 0;
    },
    requests: () => log.map((e) => ({ ...e })),
    violations: () => violations.map((v) => ({ ...v })),
    stats() {
      const chats = log.filter((e) => e.path === '/v1/chat/completions');
      return {
        requests: chats.length,
        completions: chats.filter((e) => e.status === 200).length,
        promptTokens: chats.reduce((n, e) => n + e.promptTokens, 0),
        completionTokens: chats.reduce((n, e) => n + e.completionTokens, 0),
        rateLimitViolations: violations.length,
        peakInWindow,
      };
    },
    async close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function toSequence(mode: FakeMode | readonly FakeMode[]): readonly FakeMode[] {
  const sequence = typeof mode === 'string' ? [mode] : [...mode];
  if (sequence.length === 0) throw new RangeError('a mode sequence needs at least one mode');
  return sequence;
}

// ─── Protocol ───────────────────────────────────────────────────────────────

interface ChatBody {
  model: string;
  messages: { role: string; content: string }[];
  response_format?: unknown;
}

function parseChatBody(raw: string): ChatBody {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new Error('request body is not JSON');
  }
  const body = json as Partial<Record<string, unknown>>;
  if (typeof body !== 'object' || body === null || typeof body.model !== 'string' || !Array.isArray(body.messages)) {
    throw new Error('expected {"model": string, "messages": [...]}');
  }
  if (body.stream === true) throw new Error('this fake does not stream');
  const messages = (body.messages as unknown[]).map((m) => {
    const { role, content } = (m ?? {}) as { role?: unknown; content?: unknown };
    return { role: typeof role === 'string' ? role : '', content: typeof content === 'string' ? content : '' };
  });
  return { model: body.model, messages, response_format: body.response_format };
}

/**
 * The reply a well-behaved model would give: the request's pages and mix are
 * read back from the adapter's prompt (`buildMessages` in openai.ts), and
 * the offline generator writes questions that quote real sentences.
 */
function answerFor(body: ChatBody): WireQuestion[] {
  const prompt = body.messages.find((m) => m.role === 'user' && m.content.includes('<page number='))?.content;
  if (!prompt) return [];
  const pages: PageText[] = [];
  for (const m of prompt.matchAll(/<page number="(\d+)">\n([\s\S]*?)\n<\/page>/gu)) {
    pages.push({ page: Number(m[1]), text: m[2] ?? '' });
  }
  const mix = /^Write (\d+) questions?: ([^\n]*)\.$/mu.exec(prompt);
  const count = Math.min(50, Math.max(1, Number(mix?.[1] ?? 5)));
  const types: QuestionType[] = [];
  for (const m of (mix?.[2] ?? '').matchAll(/(\d+) ([a-z_]+)/gu)) {
    const type = m[2] as QuestionType;
    if (QUESTION_TYPES.includes(type)) types.push(type);
  }
  if (pages.length === 0) return [];
  const result = generateOffline({ materialId: 'fake', pages, count, types: types.length > 0 ? types : ['single_choice'] });
  return result.questions.map(toWireQuestion);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error(`request body over ${MAX_BODY_BYTES} bytes`));
        req.destroy();
      } else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

const estimateTokens = (text: string): number => Math.ceil(text.length / 4);

function retryHeaders(waitMs: number): Record<string, string> {
  const ms = Math.max(0, Math.ceil(waitMs));
  return { 'retry-after': String(Math.ceil(ms / 1000)), 'retry-after-ms': String(ms) };
}

function sendJson(res: ServerResponse, entry: FakeRequest, status: number, body: unknown, headers: Record<string, string> = {}): void {
  entry.status = status;
  if (res.destroyed) return;
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

function sendError(res: ServerResponse, entry: FakeRequest, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
  const type = status === 429 ? 'requests' : status >= 500 ? 'server_error' : 'invalid_request_error';
  sendJson(res, entry, status, { error: { message, type, param: null, code } }, headers);
}
