import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import OpenAI from 'openai';
import { validateCitations } from '../platform/generator/citations.ts';
import type { PageText } from '../platform/generator/index.ts';
import { buildMessages } from '../platform/generator/openai.ts';
import { startFakeOpenAI, type FakeMode } from './fake-openai.ts';

const PAGES: PageText[] = [
  {
    page: 2,
    text:
      'A glacier is a persistent body of dense ice that moves under its own weight.\n' +
      'The upper part of a glacier is called the accumulation zone, where snow turns into firn.\n' +
      'The lower part of a glacier is called the ablation zone, where the ice melts in summer.\n' +
      'A moraine is a ridge of rock debris that a glacier leaves behind as it retreats.\n' +
      'Meltwater from the ablation zone feeds rivers in the valley below the glacier.\n' +
      'The Greenland ice sheet covers about 80 percent of the surface of Greenland.\n' +
      'Geologists date a moraine to learn how far the glacier once reached into the valley.',
  },
];

/** A chat request as the adapter sends it, over plain fetch so the raw protocol is visible. */
async function chat(url: string, init: { key?: string; body?: unknown } = {}): Promise<Response> {
  const messages = buildMessages({ materialId: 'm', pages: PAGES, count: 4, types: ['single_choice', 'short_text'] });
  return fetch(`${url}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(init.key ? { authorization: `Bearer ${init.key}` } : {}) },
    body: JSON.stringify(init.body ?? { model: 'any', messages }),
  });
}

interface ChatReply {
  model: string;
  choices: { message: { content: string }; finish_reason: string }[];
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
}

describe('fake OpenAI provider', () => {
  it('answers chat completions with questions quoting the prompt’s pages', async () => {
    const fake = await startFakeOpenAI({ model: 'fake-x' });
    try {
      const res = await chat(fake.url);
      assert.equal(res.status, 200);
      const reply = (await res.json()) as ChatReply;
      assert.equal(reply.model, 'fake-x');
      assert.equal(reply.choices[0]?.finish_reason, 'stop');
      const { questions } = JSON.parse(reply.choices[0]?.message.content ?? '') as { questions: { type: string; source: { page: number; quote: string } }[] };
      assert.equal(questions.length, 4);
      assert.deepEqual(questions.map((q) => q.type).sort(), ['short_text', 'short_text', 'single_choice', 'single_choice']);
      for (const q of questions) {
        assert.equal(q.source.page, 2);
        assert.ok(PAGES[0]?.text.includes(q.source.quote), q.source.quote);
      }
      assert.equal(reply.usage.total_tokens, reply.usage.prompt_tokens + reply.usage.completion_tokens);
      assert.deepEqual(fake.stats(), {
        requests: 1,
        completions: 1,
        promptTokens: reply.usage.prompt_tokens,
        completionTokens: reply.usage.completion_tokens,
        rateLimitViolations: 0,
        peakInWindow: 0,
      });
    } finally {
      await fake.close();
    }
  });

  it('lists its model to the official SDK', async () => {
    const fake = await startFakeOpenAI();
    try {
      const client = new OpenAI({ baseURL: fake.url, apiKey: 'k', maxRetries: 0 });
      const models = [];
      for await (const m of client.models.list()) models.push(m.id);
      assert.deepEqual(models, ['fake-model']);
    } finally {
      await fake.close();
    }
  });

  it('fails the way real providers fail, one mode per request in sequence', async () => {
    const modes: FakeMode[] = ['rate_limited', 'server_error', 'unavailable', 'unauthorized', 'bad_request', 'malformed', 'schema_invalid', 'bad_quotes', 'good'];
    const fake = await startFakeOpenAI({ mode: modes, retryAfterMs: 1500 });
    try {
      const statuses: number[] = [];
      const contents: string[] = [];
      for (let i = 0; i < modes.length + 1; i++) {
        const res = await chat(fake.url);
        statuses.push(res.status);
        if (i === 0) {
          assert.equal(res.headers.get('retry-after'), '2');
          assert.equal(res.headers.get('retry-after-ms'), '1500');
        }
        const body = (await res.json()) as ChatReply & { error?: { message: string; code: string } };
        if (res.status === 200) contents.push(body.choices[0]?.message.content ?? '');
        else assert.ok(body.error?.message && body.error.code, 'errors carry an OpenAI-style body');
      }
      assert.deepEqual(statuses, [429, 500, 503, 401, 400, 200, 200, 200, 200, 200]);
      const [malformed, schemaInvalid, badQuotes] = contents;
      assert.throws(() => JSON.parse(malformed ?? ''), SyntaxError);
      const shapeless = JSON.parse(schemaInvalid ?? '') as { questions: Record<string, unknown>[] };
      assert.ok(shapeless.questions.every((q) => !('type' in q) && !('source' in q)));
      const bad = JSON.parse(badQuotes ?? '') as { questions: { source: { quote: string } }[] };
      const invented = bad.questions.filter((q) => !PAGES[0]?.text.includes(q.source.quote)).length;
      assert.ok(invented >= 1);
      assert.equal(fake.requests()[7]?.corruptedQuotes, invented);
      assert.deepEqual(
        fake.requests().map((r) => r.outcome),
        [...modes, 'good'],
        'the last mode repeats',
      );

      fake.setMode(['unavailable', 'good']);
      assert.equal((await chat(fake.url)).status, 503);
      assert.equal((await chat(fake.url)).status, 200);
    } finally {
      await fake.close();
    }
  });

  it('answers slowly in slow mode and forgets a request whose client gave up', async () => {
    const fake = await startFakeOpenAI({ mode: 'slow', slowMs: 300 });
    try {
      const started = performance.now();
      assert.equal((await chat(fake.url)).status, 200);
      assert.ok(performance.now() - started >= 280);

      fake.setMode('slow');
      const abandoned = fetch(`${fake.url}/chat/completions`, {
        method: 'POST',
        body: JSON.stringify({ model: 'm', messages: [] }),
        signal: AbortSignal.timeout(50),
      });
      await assert.rejects(abandoned);
    } finally {
      const closing = performance.now();
      await fake.close();
      assert.ok(performance.now() - closing < 250, 'close() does not wait for pending slow replies');
    }
  });

  it('enforces a request limit per window, recording every violation', async () => {
    const fake = await startFakeOpenAI({ rateLimit: { requests: 3, windowMs: 1500 } });
    try {
      const statuses = [];
      for (let i = 0; i < 5; i++) statuses.push((await chat(fake.url)).status);
      assert.deepEqual(statuses, [200, 200, 200, 429, 429]);
      const refused = await chat(fake.url);
      assert.equal(refused.status, 429);
      const waitMs = Number(refused.headers.get('retry-after-ms'));
      assert.ok(waitMs > 0 && waitMs <= 1500, `retry-after-ms ${waitMs}`);
      assert.equal(fake.violations().length, 3);
      assert.deepEqual(fake.violations()[0] && { inWindow: fake.violations()[0]?.inWindow, limit: fake.violations()[0]?.limit }, { inWindow: 3, limit: 3 });

      await new Promise((r) => setTimeout(r, waitMs + 20));
      assert.equal((await chat(fake.url)).status, 200, 'the window slides');
      const stats = fake.stats();
      assert.equal(stats.requests, 7);
      assert.equal(stats.completions, 4);
      assert.equal(stats.rateLimitViolations, 3);
      assert.equal(stats.peakInWindow, 3);
    } finally {
      await fake.close();
    }
  });

  it('checks the API key when given one, and rejects unknown routes and bad bodies', async () => {
    const fake = await startFakeOpenAI({ apiKey: 'sesame', keepBodies: false });
    try {
      assert.equal((await chat(fake.url)).status, 401);
      assert.equal((await chat(fake.url, { key: 'wrong' })).status, 401);
      assert.equal((await chat(fake.url, { key: 'sesame' })).status, 200);
      assert.equal(fake.requests().at(-1)?.body, undefined, 'bodies not kept when asked not to');
      assert.equal((await chat(fake.url, { key: 'sesame', body: { messages: 'nope' } })).status, 400);
      const missing = await fetch(`${fake.url}/embeddings`, { headers: { authorization: 'Bearer sesame' } });
      assert.equal(missing.status, 404);
      assert.deepEqual(
        fake.requests().map((r) => r.outcome),
        ['auth_required', 'auth_required', 'good', 'invalid_body', 'not_found'],
      );
    } finally {
      await fake.close();
    }
  });

  it('writes replies that survive the citation check', async () => {
    const fake = await startFakeOpenAI();
    try {
      const reply = (await (await chat(fake.url)).json()) as ChatReply;
      const { questions } = JSON.parse(reply.choices[0]?.message.content ?? '') as { questions: { source: { page: number; quote: string } }[] };
      // In the wire form; a minimal true/false per quote is enough to run the page check.
      const candidates = questions.map((q, i) => ({ type: 'true_false', stem: `S${i}`, correct: true, source: { materialId: 'm', ...q.source } }));
      assert.deepEqual(validateCitations(candidates, PAGES).dropped, []);
    } finally {
      await fake.close();
    }
  });
});
