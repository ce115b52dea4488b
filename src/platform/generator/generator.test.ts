import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startFakeOpenAI, type FakeOpenAI } from '../../testing/fake-openai.ts';
import { chunkPages, sentenceSpans } from './chunking.ts';
import { normalizeForMatch, validateCitations } from './citations.ts';
import { GeneratorError, planMix, type GeneratedQuestion, type GenerateRequest, type PageText } from './index.ts';
import { createOfflineGenerator, generateOffline } from './offline.ts';
import { createOpenAiGenerator, replyJsonSchema, retryAfter } from './openai.ts';

// ─── Fixtures made here ─────────────────────────────────────────────────────

/** A five-page English text about glaciers: prose with recurring terms and some numbers. */
function glacierPages(): PageText[] {
  return [
    [
      'Glaciers and Ice Sheets',
      '',
      'A glacier is a persistent body of dense ice that moves under its own weight. A glacier forms where the accumulation of snow exceeds its ablation over many years.',
      'The upper part of a glacier is called the accumulation zone. In the accumulation zone, fresh snow is buried and slowly compressed into firn.',
      'Firn is an intermediate stage between snow and glacial ice. After about 30 years, firn in the Alps can turn into dense glacial ice.',
      'The lower part of a glacier is called the ablation zone, where melting and sublimation remove more ice than the winter adds.',
    ],
    [
      'Meltwater from the ablation zone feeds rivers and lakes in the valleys below the glacier.',
      'The boundary between the accumulation zone and the ablation zone is known as the equilibrium line.',
      'A crevasse is a deep crack that opens in the ice where the glacier flows over uneven bedrock.',
      'Mountaineers cross a crevasse field roped together, because snow bridges can hide a crevasse completely.',
      'The Greenland ice sheet covers about 80 percent of the surface of Greenland.',
    ],
    [
      'The Antarctic ice sheet is the largest single mass of ice on Earth.',
      'If the Antarctic ice sheet melted completely, global sea level would rise by about 58 metres.',
      'A moraine is a ridge of rock debris that a glacier pushes forward or leaves behind as it retreats.',
      'The terminal moraine marks the furthest point that a glacier reached during its advance.',
      'Geologists date a moraine to reconstruct how far the glacier once extended into the valley.',
    ],
    [
      'Glacial erosion shapes the valley floor into a broad U-shaped profile over thousands of years.',
      'Rock fragments frozen into the base of the glacier scrape the bedrock like coarse sandpaper.',
      'This scraping leaves long parallel scratches called striations on exposed bedrock surfaces.',
      'A cirque is a bowl-shaped hollow carved by a small glacier at the head of a mountain valley.',
      'When a cirque glacier melts away, the hollow often fills with water and becomes a small mountain lake.',
    ],
    [
      'Scientists measure the mass balance of a glacier by comparing winter accumulation with summer ablation.',
      'A negative mass balance means that the glacier loses more ice than it gains in a year.',
      'Most glaciers in the Alps have had a negative mass balance for more than 40 years.',
      'Satellite images show that the Greenland ice sheet now loses mass faster than in the previous century.',
      'Meltwater that reaches the bed of an ice sheet can lubricate the base and speed up the flow of ice.',
    ],
  ].map((lines, i) => ({ page: i + 1, text: lines.join('\n') }));
}

const ARABIC_PAGES: PageText[] = [
  {
    page: 1,
    text:
      'تعتبر الأنهار الجليدية من أهم مصادر المياه العذبة في العالم. ' +
      'يتكون النهر الجليدي عندما يتراكم الثلج على مدى سنوات طويلة في المناطق الباردة. ' +
      'تتحرك الأنهار الجليدية ببطء شديد تحت تأثير وزنها الكبير. ' +
      'يذوب جزء من النهر الجليدي في الصيف ويغذي الأنهار في الوديان.',
  },
  {
    page: 2,
    text:
      'تغطي الصفيحة الجليدية في القارة القطبية الجنوبية مساحة واسعة جدا من الأرض. ' +
      'يدرس العلماء الأنهار الجليدية لفهم تغير المناخ في العالم. ' +
      'يؤدي ذوبان الأنهار الجليدية إلى ارتفاع مستوى سطح البحر.',
  },
];

const allTypes = ['single_choice', 'true_false', 'short_text', 'numeric', 'multiple_response'] as const;

function request(pages: PageText[], over: Partial<GenerateRequest> = {}): GenerateRequest {
  return { materialId: 'mat-1', pages, count: 8, types: ['single_choice', 'true_false', 'short_text', 'numeric'], ...over };
}

function countTypes(questions: readonly GeneratedQuestion[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const q of questions) out[q.type] = (out[q.type] ?? 0) + 1;
  return out;
}

/** The checks every offline question must pass, whatever the document. */
function assertSound(questions: readonly GeneratedQuestion[], pages: readonly PageText[]): void {
  const report = validateCitations(questions, pages);
  assert.deepEqual(report.dropped, [], 'no question may fail its own citation check');
  const docText = normalizeForMatch(pages.map((p) => p.text).join('\n')).toLowerCase();
  const stems = new Set<string>();
  const quotes = new Set<string>();
  for (const q of questions) {
    assert.ok(!stems.has(q.stem), `duplicate stem: ${q.stem}`);
    assert.ok(!quotes.has(q.source.quote), `two questions cite one sentence: ${q.source.quote}`);
    stems.add(q.stem);
    quotes.add(q.source.quote);
    const quote = normalizeForMatch(q.source.quote);
    switch (q.type) {
      case 'short_text':
        assert.equal(q.match, 'normalized');
        assert.ok(q.stem.includes('_____'));
        assert.ok(quote.includes(q.accepted[0] as string), 'the answer stands in the cited sentence');
        break;
      case 'single_choice': {
        assert.ok(q.options.length >= 3 && q.options.length <= 4);
        assert.deepEqual(
          q.options.map((o) => o.id),
          ['a', 'b', 'c', 'd'].slice(0, q.options.length),
        );
        const right = q.options.find((o) => o.id === q.correct);
        assert.ok(right && quote.toLowerCase().includes(right.text.toLowerCase()), 'the right option stands in the cited sentence');
        for (const o of q.options) {
          assert.ok(docText.includes(o.text.toLowerCase()), `option "${o.text}" is a term of the document`);
          if (o !== right) assert.ok(!quote.toLowerCase().includes(o.text.toLowerCase()), `distractor "${o.text}" must not fit the sentence`);
        }
        break;
      }
      case 'multiple_response':
        assert.equal(q.correct.length, 2);
        for (const o of q.options) assert.ok(docText.includes(o.text.toLowerCase()), `option "${o.text}" is a term of the document`);
        break;
      case 'true_false':
        assert.ok(/^(According to the text, |Laut dem Text gilt: )/u.test(q.stem), q.stem);
        if (q.correct) assert.ok(normalizeForMatch(q.stem).toLowerCase().endsWith(quote.toLowerCase().slice(1)), 'a true statement is the sentence itself');
        break;
      case 'numeric':
        assert.ok(q.stem.includes('_____'));
        assert.match(quote, new RegExp(`(^|\\D)${String(q.answer).replace('.', '[.,]')}(\\D|$)`, 'u'));
        break;
    }
  }
}

// ─── Offline generator ──────────────────────────────────────────────────────

describe('offline generator', () => {
  it('writes cited, answerable questions in the requested mix', () => {
    const pages = glacierPages();
    const result = generateOffline(request(pages, { count: 8 }));
    assert.equal(result.questions.length, 8);
    assert.deepEqual(countTypes(result.questions), { single_choice: 2, true_false: 2, short_text: 2, numeric: 2 });
    assert.deepEqual(result.dropped, []);
    assert.deepEqual(result.usage, { promptTokens: 0, completionTokens: 0, requests: 0 });
    assert.equal(result.model, 'offline');
    assertSound(result.questions, pages);
    for (const q of result.questions) assert.equal(q.source.materialId, 'mat-1');
  });

  it('is deterministic', () => {
    const a = generateOffline(request(glacierPages(), { count: 10, types: [...allTypes] }));
    const b = generateOffline(request(glacierPages(), { count: 10, types: [...allTypes] }));
    assert.deepEqual(a, b);
  });

  it('serves only the requested types, weighted by repeats, and never pads', () => {
    const pages = glacierPages();
    const onlyTf = generateOffline(request(pages, { count: 5, types: ['true_false'] }));
    assert.deepEqual(countTypes(onlyTf.questions), { true_false: 5 });

    const weighted = generateOffline(request(pages, { count: 6, types: ['single_choice', 'single_choice', 'short_text'] }));
    assert.deepEqual(countTypes(weighted.questions), { single_choice: 4, short_text: 2 });
    assert.deepEqual(Object.fromEntries(planMix(6, ['single_choice', 'single_choice', 'short_text'])), { single_choice: 4, short_text: 2 });

    // The text has a handful of usable numbers; asking for 20 numeric questions yields those, not 20.
    const numeric = generateOffline(request(pages, { count: 20, types: ['numeric'] }));
    assert.ok(numeric.questions.length >= 3 && numeric.questions.length < 20, `got ${numeric.questions.length}`);
    assertSound(numeric.questions, pages);

    // When one type runs out, the others take its share.
    const mixed = generateOffline(request(pages, { count: 16, types: ['numeric', 'short_text'] }));
    const counts = countTypes(mixed.questions);
    assert.equal(mixed.questions.length, 16);
    assert.equal(counts.numeric, numeric.questions.length);
    assertSound(mixed.questions, pages);
  });

  it('uses each sentence and each answer term at most once', () => {
    const pages = glacierPages();
    const result = generateOffline(request(pages, { count: 50, types: [...allTypes] }));
    assert.ok(result.questions.length >= 12, `got ${result.questions.length}`);
    assertSound(result.questions, pages);
    const answers = result.questions.flatMap((q) => (q.type === 'short_text' ? q.accepted.map((a) => a.toLowerCase()) : []));
    assert.equal(new Set(answers).size, answers.length);
  });

  it('marks difficulty and writes feedback that quotes the source', () => {
    const result = generateOffline(request(glacierPages(), { count: 3, difficulty: 'hard' }));
    for (const q of result.questions) {
      assert.equal(q.difficulty, 'hard');
      assert.ok(q.feedback?.includes(`page ${q.source.page}`));
    }
  });

  it('returns nothing rather than garbage for tiny, empty or formula-only text', () => {
    assert.deepEqual(generateOffline(request([{ page: 1, text: 'Hello brave new world' }])).questions, []);
    assert.deepEqual(generateOffline(request([{ page: 1, text: '' }])).questions, []);
    assert.deepEqual(generateOffline(request([])).questions, []);
    const formulas = [{ page: 3, text: 'Sei X ein Raum und K ⊆ X kompakt. Dann ist f(x) = x² + 1 stetig. ∀ε > 0 ∃δ > 0.' }];
    assert.deepEqual(generateOffline(request(formulas)).questions, []);
  });

  it('handles Arabic (right-to-left) text', () => {
    const result = generateOffline(request(ARABIC_PAGES, { count: 6, types: [...allTypes] }));
    assertSound(result.questions, ARABIC_PAGES);
    const habibi = [{ page: 1, text: '\u202bحبيبي\u202c\n\n\u202b\u202ahabibi\u202c حبيبي\u202c\n\n' }];
    assert.deepEqual(generateOffline(request(habibi)).questions, []);
  });

  it('writes German lead-ins for German text', () => {
    const pages = [
      {
        page: 7,
        text:
          'Ein topologischer Raum heißt kompakt, wenn jede offene Überdeckung eine endliche Teilüberdeckung besitzt. ' +
          'Jeder kompakte Raum ist auch folgenkompakt, wenn er das erste Abzählbarkeitsaxiom erfüllt. ' +
          'Die Menge der reellen Zahlen ist mit der üblichen Topologie nicht kompakt. ' +
          'Ein abgeschlossener Teilraum eines kompakten Raumes ist wieder kompakt. ' +
          'Ein Hausdorffraum ist ein topologischer Raum, in dem je zwei Punkte disjunkte Umgebungen besitzen. ' +
          'In einem Hausdorffraum ist jede kompakte Teilmenge abgeschlossen. ' +
          'Die Einheitssphäre im euklidischen Raum ist eine kompakte Teilmenge mit 2 Zusammenhangskomponenten weniger als erwartet.',
      },
    ];
    const result = generateOffline(request(pages, { count: 4, types: ['short_text', 'true_false'] }));
    assert.ok(result.questions.length >= 2);
    assertSound(result.questions, pages);
    for (const q of result.questions) assert.match(q.stem, /^(Ergänzen Sie die Lücke: |Laut dem Text gilt: )/u);
  });

  it('rejects a malformed request before doing any work', () => {
    assert.throws(() => generateOffline(request(glacierPages(), { count: 0 })), RangeError);
    assert.throws(() => generateOffline(request(glacierPages(), { types: [] })), RangeError);
    assert.throws(() => generateOffline(request([{ page: 1, text: 'a' }, { page: 1, text: 'b' }])), RangeError);
  });

  it('honours an aborted signal', async () => {
    const generator = createOfflineGenerator();
    await assert.rejects(generator.generate(request(glacierPages(), { signal: AbortSignal.abort() })), { name: 'AbortError' });
  });
});

// ─── Real documents (../shared/fixtures) ────────────────────────────────────

const FIXTURES = process.env.EXAMDAY_FIXTURES ?? join(import.meta.dirname, '../../../../shared/fixtures');
const hasPdftotext = ((): boolean => {
  try {
    execFileSync('pdftotext', ['-v'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/** Page texts as `pdftotext` extracts them; it ends every page with a form feed. */
function pdfPages(file: string): PageText[] {
  const text = execFileSync('pdftotext', ['-enc', 'UTF-8', join(FIXTURES, 'pdfs/good', file), '-'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  return text.split('\f').map((t, i) => ({ page: i + 1, text: t }));
}

describe('offline generator on real documents', () => {
  const skip = !existsSync(join(FIXTURES, 'pdfs/good'))
    ? `fixtures not found at ${FIXTURES}`
    : !hasPdftotext
      ? 'pdftotext (poppler-utils) is not installed'
      : false;
  if (skip) console.log(`skipping real-document tests: ${skip}`);

  for (const [file, minQuestions] of [
    ['tracemonkey.pdf', 30],
    ['GeoTopo-komprimiert.pdf', 40],
  ] as const) {
    it(`writes sound questions for every chunk of ${file}`, { skip }, () => {
      const pages = pdfPages(file);
      const chunks = chunkPages(pages, { maxChars: 12_000 });
      let total = 0;
      const types = new Set<string>();
      for (const chunk of chunks) {
        const result = generateOffline({ materialId: file, pages: chunk.pages, count: 6, types: [...allTypes] });
        assertSound(result.questions, chunk.pages);
        // Citations hold against the whole document's pages too, not only the chunk.
        assert.deepEqual(validateCitations(result.questions, pages).dropped, []);
        total += result.questions.length;
        for (const q of result.questions) types.add(q.type);
      }
      assert.ok(total >= minQuestions, `${total} questions from ${chunks.length} chunks`);
      assert.deepEqual([...types].sort(), [...allTypes].sort());
    });
  }

  it('returns no questions for the four-word Arabic document', { skip }, () => {
    const pages = pdfPages('habibi.pdf');
    assert.deepEqual(generateOffline({ materialId: 'habibi', pages, count: 5, types: [...allTypes] }).questions, []);
  });
});

// ─── Citation validator ─────────────────────────────────────────────────────

describe('validateCitations', () => {
  const pages: PageText[] = [
    { page: 4, text: 'The ﬁnal  “answer”\nis forty–two — or so they say.\nA gen-\nerated word and a well-\nknown one.' },
  ];
  const question = (page: number, quote: string, over: Record<string, unknown> = {}): Record<string, unknown> => ({
    type: 'true_false',
    stem: `Statement about ${quote}`,
    correct: true,
    source: { materialId: 'm', page, quote },
    ...over,
  });

  it('keeps quotes that differ only in spacing, quote marks, dashes, ligatures and line-end hyphens', () => {
    const report = validateCitations(
      [
        question(4, 'The final "answer" is forty-two - or so they say.'),
        question(4, '  The ﬁnal “answer” is  '),
        question(4, 'A generated word'),
        question(4, 'and a well-known one.'),
        question(4, '“…is forty–two — or so…”'),
      ],
      pages,
    );
    assert.deepEqual(report.dropped, []);
    assert.equal(report.kept.length, 5);
    assert.equal(report.kept[1]?.source.quote, 'The ﬁnal “answer” is', 'quotes come back trimmed, otherwise as written');
    assert.equal(report.kept[0]?.points, 1, 'defaults are applied');
  });

  it('drops and explains every kind of failure', () => {
    const report = validateCitations(
      [
        question(9, 'The final answer is forty-two'),
        question(4, 'The final answer is forty-three'),
        question(4, 'The final'),
        question(4, 'x'.repeat(1200)),
        { type: 'single_choice', stem: 'Q?', options: [{ id: 'a', text: 'x' }, { id: 'b', text: 'y' }], correct: 'c', source: { materialId: 'm', page: 4, quote: 'or so they say' } },
        { type: 'true_false', stem: 'No source', correct: true },
        'not even an object',
        question(4, 'or so they say', { stem: 'Same stem' }),
        question(4, 'A generated word', { stem: '  same   STEM ' }),
      ],
      pages,
    );
    assert.deepEqual(
      report.dropped.map((d) => d.code),
      ['unknown_page', 'quote_not_found', 'quote_too_short', 'quote_too_long', 'invalid_question', 'missing_source', 'invalid_question', 'duplicate'],
    );
    assert.equal(report.kept.length, 1);
    for (const d of report.dropped) assert.ok(d.reason.length > 10, d.reason);
    assert.match(report.dropped[4]?.reason ?? '', /correct: "c" is not one of the option ids a, b/u);
    assert.match(report.dropped[0]?.reason ?? '', /page 9/u);
  });

  it('drops a question whose text the database could not store (U+0000, a lone surrogate)', () => {
    const report = validateCitations(
      [
        question(4, 'or so they say', { stem: 'Nul\u0000 inside' }),
        question(4, 'A generated word', { feedback: 'half an emoji \ud83d' }),
        question(4, 'and a well-known one.', { stem: 'A whole emoji 😀 is text' }),
      ],
      pages,
    );
    assert.deepEqual(report.dropped.map((d) => d.code), ['invalid_question', 'invalid_question']);
    assert.match(report.dropped[0]?.reason ?? '', /stem contains the character U\+0000/u);
    assert.match(report.dropped[1]?.reason ?? '', /feedback contains an unpaired UTF-16 surrogate/u);
    assert.equal(report.kept.length, 1);
  });
});

// ─── Chunking ───────────────────────────────────────────────────────────────

describe('chunkPages', () => {
  it('packs whole pages with stable, content-derived hashes', () => {
    const pages = glacierPages();
    const a = chunkPages(pages, { maxChars: 700 });
    const b = chunkPages(glacierPages(), { maxChars: 700 });
    assert.deepEqual(a, b);
    assert.ok(a.length >= 2);
    assert.equal(new Set(a.map((c) => c.hash)).size, a.length);
    for (const c of a) {
      assert.match(c.hash, /^[0-9a-f]{64}$/u);
      assert.ok(c.chars <= 700);
    }
    // Whole pages, in order, each exactly once.
    assert.deepEqual(
      a.flatMap((c) => c.pages),
      pages,
    );
    // The same content hashes the same, whatever the chunk size or position; page numbers count.
    const single = chunkPages([pages[2] as PageText], { maxChars: 5000 })[0];
    const inBig = chunkPages(pages, { maxChars: 700 }).find((c) => c.pages.length === 1 && c.pages[0]?.page === 3);
    if (inBig) assert.equal(single?.hash, inBig.hash);
    const renumbered = chunkPages([{ ...(pages[2] as PageText), page: 30 }], { maxChars: 5000 })[0];
    assert.notEqual(single?.hash, renumbered?.hash);
  });

  it('splits a huge page at sentence ends, keeping its page number', () => {
    const sentences = Array.from({ length: 200 }, (_, i) => `Sentence number ${i} talks about glaciers, e.g. the Rhône glacier near Dr. Smith's hut.`);
    const text = sentences.join(' ');
    const chunks = chunkPages([{ page: 1, text: 'Short page.' }, { page: 2, text }, { page: 3, text: 'Another short page.' }], { maxChars: 1000 });
    const parts = chunks.flatMap((c) => c.pages).filter((p) => p.page === 2);
    assert.ok(parts.length >= 15);
    for (const part of parts) {
      assert.ok(part.text.length <= 1000);
      assert.ok(text.includes(part.text), 'every part is a slice of the page');
      assert.match(part.text, /^Sentence number \d+ .*hut\.$/su, 'parts start and end at sentence boundaries');
    }
    assert.equal(parts.map((p) => p.text).join(' '), text);
    for (const c of chunks) assert.ok(c.chars <= 1000);
    assert.equal(new Set(chunks.map((c) => c.hash)).size, chunks.length);
  });

  it('cuts a sentence longer than the limit at whitespace, and skips blank pages', () => {
    const long = Array.from({ length: 400 }, (_, i) => `word${i}`).join(' ');
    const chunks = chunkPages([{ page: 1, text: long }, { page: 2, text: ' \n\f ' }], { maxChars: 300 });
    assert.ok(chunks.length > 5);
    assert.deepEqual(new Set(chunks.flatMap((c) => c.pages.map((p) => p.page))), new Set([1]));
    assert.equal(chunks.map((c) => c.pages[0]?.text).join(' '), long);
    assert.throws(() => chunkPages([], { maxChars: 10 }), RangeError);
  });

  it('finds sentence ends without breaking at abbreviations and initials', () => {
    const text = 'We use e.g. the JIT. Dr. Smith and A. Gal agree! Was it 3.5 s? Yes.\n\nHeading\nNext line.';
    const spans = sentenceSpans(text).map((s) => text.slice(s.start, s.end));
    assert.deepEqual(spans, ['We use e.g. the JIT.', 'Dr. Smith and A. Gal agree!', 'Was it 3.5 s?', 'Yes.', 'Heading\nNext line.']);
  });
});

// ─── OpenAI-compatible adapter against the fake provider ────────────────────

describe('OpenAI-compatible adapter', () => {
  let fake: FakeOpenAI;
  const pages = glacierPages();
  const generator = (timeoutMs = 5000) => createOpenAiGenerator({ baseURL: fake.url, apiKey: 'test-key', model: 'fake-model', timeoutMs });
  const call = (g = generator(), over: Partial<GenerateRequest> = {}) => g.generate(request(pages, { count: 6, ...over }));
  const requestsBefore = (): number => fake.stats().requests;

  before(async () => {
    fake = await startFakeOpenAI({ slowMs: 5000 });
  });
  after(async () => {
    await fake.close();
  });

  it('returns validated questions, the model name and token usage', async () => {
    fake.setMode('good');
    const n = requestsBefore();
    const result = await call(generator(), { types: [...allTypes], difficulty: 'medium' });
    assert.ok(result.questions.length >= 5, `got ${result.questions.length}`);
    assert.deepEqual(result.dropped, []);
    assert.deepEqual(validateCitations(result.questions, pages).dropped, []);
    assert.equal(result.model, 'fake-model');
    for (const q of result.questions) {
      assert.equal(q.source.materialId, 'mat-1');
      assert.equal(q.difficulty, 'medium');
    }
    const seen = fake.requests().slice(n);
    assert.equal(seen.length, 1);
    assert.deepEqual(result.usage, { promptTokens: seen[0]?.promptTokens, completionTokens: seen[0]?.completionTokens, requests: 1 });
    assert.ok(result.usage.promptTokens > 500 && result.usage.completionTokens > 100);

    const body = seen[0]?.body as { response_format: { type: string; json_schema: { strict: boolean } }; messages: { content: string }[] };
    assert.equal(body.response_format.type, 'json_schema');
    assert.equal(body.response_format.json_schema.strict, true);
    assert.match(body.messages[1]?.content ?? '', /^Write 6 questions: 2 single_choice, 1 true_false, 1 short_text, 1 numeric, 1 multiple_response\.$/mu);
    assert.match(body.messages[0]?.content ?? '', /character for character/u);
  });

  it('maps 429 to provider_rate_limited with the Retry-After, without retrying', async () => {
    fake.setMode('rate_limited');
    const n = requestsBefore();
    const err = await call().catch((e: unknown) => e);
    assert.ok(err instanceof GeneratorError);
    assert.equal(err.code, 'provider_rate_limited');
    assert.equal(err.retryable, true);
    assert.equal(err.retryAfterMs, 2000);
    assert.equal(err.status, 429);
    assert.equal(err.usage.requests, 1);
    assert.equal(requestsBefore() - n, 1, 'the SDK must not retry on its own');
  });

  it('maps 500 and 503 to provider_unavailable', async () => {
    for (const mode of ['server_error', 'unavailable'] as const) {
      fake.setMode(mode);
      const n = requestsBefore();
      await assert.rejects(call(), (e: unknown) => e instanceof GeneratorError && e.code === 'provider_unavailable' && e.retryable);
      assert.equal(requestsBefore() - n, 1);
    }
  });

  it('gives up on a slow provider within the timeout', async () => {
    fake.setMode('slow');
    const started = performance.now();
    await assert.rejects(call(generator(300)), (e: unknown) => e instanceof GeneratorError && e.code === 'provider_unavailable' && /300 ms/u.test(e.message));
    assert.ok(performance.now() - started < 2500, 'well before the provider would have answered');
  });

  it('reports an unreachable provider as provider_unavailable', async () => {
    const gone = await startFakeOpenAI();
    const url = gone.url;
    await gone.close();
    const g = createOpenAiGenerator({ baseURL: url, model: 'm', timeoutMs: 2000 });
    await assert.rejects(g.generate(request(pages)), (e: unknown) => e instanceof GeneratorError && e.code === 'provider_unavailable');
  });

  it('repairs one malformed reply, and gives up after the second', async () => {
    fake.setMode(['malformed', 'good']);
    let n = requestsBefore();
    const repaired = await call();
    assert.ok(repaired.questions.length > 0);
    assert.equal(repaired.usage.requests, 2);
    const repairBody = fake.requests().at(-1)?.body as { messages: { role: string; content: string }[] };
    assert.equal(repairBody.messages.length, 4);
    assert.match(repairBody.messages[3]?.content ?? '', /not valid JSON/u);
    assert.equal(requestsBefore() - n, 2);

    fake.setMode('malformed');
    n = requestsBefore();
    const err = await call().catch((e: unknown) => e);
    assert.ok(err instanceof GeneratorError);
    assert.equal(err.code, 'provider_bad_output');
    assert.equal(err.usage.requests, 2);
    assert.ok(err.usage.completionTokens > 0, 'a failed call still reports what it spent');
    assert.equal(requestsBefore() - n, 2, 'exactly one repair request');
  });

  it('treats JSON of the wrong shape like malformed JSON', async () => {
    fake.setMode('schema_invalid');
    const n = requestsBefore();
    await assert.rejects(call(), (e: unknown) => e instanceof GeneratorError && e.code === 'provider_bad_output' && /schema/u.test(e.message));
    assert.equal(requestsBefore() - n, 2);
  });

  it('drops questions whose quotes are not on the page, and says how many', async () => {
    fake.setMode('bad_quotes');
    const result = await call();
    const corrupted = fake.requests().at(-1)?.corruptedQuotes ?? 0;
    assert.ok(corrupted >= 2);
    assert.equal(result.dropped.length, corrupted);
    for (const d of result.dropped) assert.equal(d.code, 'quote_not_found');
    assert.ok(result.questions.length > 0);
    assert.deepEqual(validateCitations(result.questions, pages).dropped, []);
  });

  it('maps 401 to provider_auth and 400 to provider_bad_request, neither retryable', async () => {
    fake.setMode('unauthorized');
    await assert.rejects(call(), (e: unknown) => e instanceof GeneratorError && e.code === 'provider_auth' && !e.retryable && e.status === 401);
    fake.setMode('bad_request');
    await assert.rejects(call(), (e: unknown) => e instanceof GeneratorError && e.code === 'provider_bad_request' && !e.retryable);
    const locked = await startFakeOpenAI({ apiKey: 'right-key' });
    try {
      const g = createOpenAiGenerator({ baseURL: locked.url, apiKey: 'wrong-key', model: 'm' });
      await assert.rejects(g.generate(request(pages)), (e: unknown) => e instanceof GeneratorError && e.code === 'provider_auth');
    } finally {
      await locked.close();
    }
  });

  it('follows a mode sequence: rate limited twice, then good', async () => {
    fake.setMode(['rate_limited', 'rate_limited', 'good']);
    const g = generator();
    for (let i = 0; i < 2; i++) {
      await assert.rejects(call(g), (e: unknown) => e instanceof GeneratorError && e.code === 'provider_rate_limited');
    }
    assert.ok((await call(g)).questions.length > 0);
  });

  it('rejects with the caller’s reason when aborted, and close() ends calls in flight', async () => {
    fake.setMode('slow');
    const controller = new AbortController();
    const pending = call(generator(), { signal: controller.signal });
    setTimeout(() => controller.abort(new Error('job cancelled')), 100);
    await assert.rejects(pending, /job cancelled/u);

    const g = generator();
    const inFlight = call(g);
    setTimeout(() => void g.close(), 100);
    await assert.rejects(inFlight, (e: unknown) => e instanceof GeneratorError && e.code === 'provider_unavailable');
  });

  it('parses Retry-After in seconds, milliseconds and as a date', () => {
    const h = (init: Record<string, string>) => new Headers(init);
    assert.equal(retryAfter(h({ 'retry-after': '3' })), 3000);
    assert.equal(retryAfter(h({ 'retry-after': '1.5' })), 1500);
    assert.equal(retryAfter(h({ 'retry-after-ms': '250', 'retry-after': '9' })), 250);
    assert.equal(retryAfter(h({ 'retry-after': new Date(10_000).toUTCString() }), 4_000), 6000);
    assert.equal(retryAfter(h({ 'retry-after': 'soon' })), undefined);
    assert.equal(retryAfter(h({})), undefined);
    assert.equal(retryAfter(h({ 'retry-after': '999999999' })), 86_400_000);
  });

  it('offers a schema that strict structured output accepts, with only the requested types', () => {
    const schema = replyJsonSchema(['true_false', 'numeric']);
    const visit = (node: unknown): void => {
      if (Array.isArray(node)) return node.forEach(visit);
      if (typeof node !== 'object' || node === null) return;
      const obj = node as Record<string, unknown>;
      assert.equal(obj.oneOf, undefined, 'strict mode takes anyOf, not oneOf');
      if (obj.type === 'object') {
        assert.equal(obj.additionalProperties, false);
        assert.deepEqual(obj.required, Object.keys(obj.properties as object));
      }
      Object.values(obj).forEach(visit);
    };
    visit(schema);
    const variants = ((schema.properties as { questions: { items: { anyOf: { properties: { type: { enum: string[] } } }[] } } }).questions.items.anyOf);
    assert.deepEqual(variants.map((v) => v.properties.type.enum[0]), ['true_false', 'numeric']);
  });
});
