import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { checkAnswerPattern, compileAnswerPattern } from './answer-regex.ts';
import {
  applyQuestionPatch,
  BODY_FIELDS,
  formatIssues,
  fromContent,
  fromRow,
  InvalidQuestionRowError,
  issueList,
  parseResponse,
  publicQuestionSchema,
  publicView,
  questionBody,
  questionInputSchema,
  questionPatchSchema,
  responseValueSchema,
  toQuestionInput,
  type Question,
  type QuestionInput,
  type QuestionInputRaw,
} from './model.ts';

// ─── helpers ────────────────────────────────────────────────────────────────

function valid(input: unknown): QuestionInput {
  const r = questionInputSchema.safeParse(input);
  if (!r.success) assert.fail(`expected valid, got: ${formatIssues(r.error).join(' | ')}`);
  return r.data;
}

function problems(input: unknown): string[] {
  const r = questionInputSchema.safeParse(input);
  assert.equal(r.success, false, `expected invalid: ${JSON.stringify(input)}`);
  return formatIssues(r.error);
}

/** Asserts that one of the problems is exactly `expected` (or matches it). */
function assertProblem(input: unknown, expected: string | RegExp): void {
  const list = problems(input);
  const hit = list.some((p) => (typeof expected === 'string' ? p === expected : expected.test(p)));
  assert.ok(hit, `expected a problem ${String(expected)}, got:\n  ${list.join('\n  ')}`);
}

const abc = [
  { id: 'a', text: 'Alpha' },
  { id: 'b', text: 'Beta' },
  { id: 'c', text: 'Gamma' },
];
const single: QuestionInputRaw = { type: 'single_choice', stem: 'Pick one', options: abc, correct: 'b' };
const multiple: QuestionInputRaw = { type: 'multiple_response', stem: 'Pick some', options: abc, correct: ['a', 'c'] };
const trueFalse: QuestionInputRaw = { type: 'true_false', stem: 'Water is wet.', correct: true };
const shortText: QuestionInputRaw = { type: 'short_text', stem: 'Capital of France?', accepted: ['Paris'] };
const numeric: QuestionInputRaw = { type: 'numeric', stem: 'How far?', answer: 98765.4321, tolerance: 0.5 };
const samples = { single, multiple, trueFalse, shortText, numeric };

const withId = (input: unknown, id = '00000000-0000-4000-8000-000000000001'): Question => ({ ...valid(input), id });

// ─── common fields ──────────────────────────────────────────────────────────

describe('common fields', () => {
  it('applies defaults and omits unset optional fields', () => {
    const q = valid(single);
    assert.equal(q.points, 1);
    assert.deepEqual(q.tags, []);
    assert.equal('feedback' in q, false);
    assert.equal('difficulty' in q, false);
  });

  it('accepts every sample type', () => {
    for (const s of Object.values(samples)) valid(s);
  });

  it('requires a stem that is not blank and not too long', () => {
    assertProblem({ ...single, stem: undefined }, 'stem: is required');
    assertProblem({ ...single, stem: '' }, 'stem: must not be empty');
    assertProblem({ ...single, stem: ' \n\t ' }, 'stem: must not be empty');
    assertProblem({ ...single, stem: 'x'.repeat(10_001) }, 'stem: must be at most 10000 characters');
    assertProblem({ ...single, stem: 42 }, 'stem: must be text');
    valid({ ...single, stem: 'x'.repeat(10_000) });
  });

  it('checks points: positive, at most 1000, at most 2 decimals', () => {
    assertProblem({ ...single, points: 0 }, 'points: must be greater than 0');
    assertProblem({ ...single, points: -1 }, 'points: must be greater than 0');
    assertProblem({ ...single, points: 1000.01 }, 'points: must be at most 1000');
    assertProblem({ ...single, points: 0.015 }, 'points: must have at most 2 decimal places (scores are kept to 0.01)');
    assertProblem({ ...single, points: '2' }, 'points: must be a number');
    assert.equal(valid({ ...single, points: 1000 }).points, 1000);
    assert.equal(valid({ ...single, points: 0.01 }).points, 0.01);
    // The float sum an API client may send is stored as the decimal the author meant.
    assert.equal(valid({ ...single, points: 0.1 + 0.2 }).points, 0.3);
  });

  it('limits feedback and checks difficulty', () => {
    assertProblem({ ...single, feedback: 'x'.repeat(5001) }, 'feedback: must be at most 5000 characters');
    assert.equal(valid({ ...single, feedback: 'Because.' }).feedback, 'Because.');
    assertProblem({ ...single, difficulty: 'expert' }, 'difficulty: must be one of "easy", "medium", "hard"');
    assert.equal(valid({ ...single, difficulty: 'hard' }).difficulty, 'hard');
  });

  it('normalises tags: NFKC, trimmed, lower-cased, spaces collapsed, de-duplicated', () => {
    const q = valid({ ...single, tags: [' Algebra ', 'ALGEBRA', 'Linear \t  Algebra', 'ＭＡＴＨ', 'math'] });
    assert.deepEqual(q.tags, ['algebra', 'linear algebra', 'math']);
  });

  it('rejects bad tags with the index of the tag', () => {
    assertProblem({ ...single, tags: ['ok', '   '] }, 'tags.1: must not be empty');
    assertProblem({ ...single, tags: ['x'.repeat(65)] }, 'tags.0: must be at most 64 characters');
    assertProblem({ ...single, tags: Array.from({ length: 51 }, (_, i) => `t${i}`) }, 'tags: at most 50 tags');
    assertProblem({ ...single, tags: 'algebra' }, 'tags: must be a list of tags');
    valid({ ...single, tags: Array.from({ length: 50 }, (_, i) => `t${i}`) });
    valid({ ...single, tags: ['x'.repeat(64)] });
  });

  it('names unknown fields, including status, which is not authoring input', () => {
    assertProblem(
      { ...trueFalse, status: 'approved' },
      'unknown field "status"; a true_false question has: type, stem, points, feedback, tags, difficulty, correct',
    );
    assertProblem({ ...single, feedbak: 'typo' }, /^unknown field "feedbak"; a single_choice question has: .*options, correct$/);
  });

  it('explains a missing or unknown type', () => {
    const expected = 'type: must be one of "single_choice", "multiple_response", "true_false", "short_text", "numeric"';
    assertProblem({ stem: 'x' }, expected);
    assertProblem({ ...single, type: 'essay' }, expected);
    assertProblem('not an object', /expected object/);
  });
});

// ─── per type ───────────────────────────────────────────────────────────────

describe('single_choice', () => {
  it('requires correct to be one of the option ids', () => {
    assertProblem({ ...single, options: abc.slice(0, 2), correct: 'c' }, 'correct: "c" is not one of the option ids a, b');
    assertProblem({ ...single, correct: undefined }, 'correct: is required');
    assertProblem({ ...single, correct: ['a'] }, 'correct: must be the id of one option');
  });

  it('checks option ids: unique, 1..32 characters of [A-Za-z0-9_-]', () => {
    const idRule = 'must be 1 to 32 characters from A-Z, a-z, 0-9, "_" and "-"';
    for (const bad of ['', 'a b', 'é', 'x'.repeat(33), 'a.b']) {
      assertProblem({ ...single, options: [{ id: bad, text: 'x' }, ...abc], correct: 'a' }, `options.0.id: ${idRule}`);
    }
    valid({ ...single, options: [{ id: 'A_b-9', text: 'x' }, { id: 'x'.repeat(32), text: 'y' }], correct: 'A_b-9' });
    assertProblem(
      { ...single, options: [...abc, { id: 'a', text: 'Again' }] },
      'options.3.id: "a" is used by options 0 and 3; option ids must be unique',
    );
  });

  it('checks option texts and the number of options', () => {
    assertProblem({ ...single, options: [abc[0], { id: 'b', text: '  ' }] }, 'options.1.text: must not be empty');
    assertProblem({ ...single, options: [abc[0], { id: 'b' }] }, 'options.1.text: is required');
    assertProblem({ ...single, options: [abc[0]], correct: 'a' }, 'options: need at least 2 options');
    const many = Array.from({ length: 21 }, (_, i) => ({ id: `o${i}`, text: `Option ${i}` }));
    assertProblem({ ...single, options: many, correct: 'o0' }, 'options: at most 20 options');
    valid({ ...single, options: many.slice(0, 20), correct: 'o19' });
    assertProblem(
      { ...single, options: [{ ...abc[0], correct: true }, abc[1]] },
      'options.0: unknown field "correct"; an option has: id, text',
    );
    assertProblem({ ...single, options: 'a,b' }, 'options: must be a list of {id, text} options');
  });
});

describe('multiple_response', () => {
  it('defaults scoring to all_or_nothing', () => {
    const q = valid(multiple);
    assert.equal(q.type === 'multiple_response' && q.scoring, 'all_or_nothing');
    assert.equal(valid({ ...multiple, scoring: 'partial' }).type, 'multiple_response');
  });

  it('requires at least one correct option, each existing and listed once', () => {
    assertProblem({ ...multiple, correct: [] }, 'correct: need at least 1 correct option');
    assertProblem({ ...multiple, correct: ['a', 'a'] }, 'correct.1: "a" is listed twice');
    assertProblem({ ...multiple, correct: ['a', 'z'] }, 'correct.1: "z" is not one of the option ids a, b, c');
    assertProblem({ ...multiple, correct: 'a' }, 'correct: must be a list of option ids');
    assertProblem({ ...multiple, correct: ['a', 3] }, 'correct.1: must be an option id');
    valid({ ...multiple, correct: ['a', 'b', 'c'] });
  });

  it('checks the scoring mode', () => {
    assertProblem({ ...multiple, scoring: 'half' }, 'scoring: must be one of "all_or_nothing", "partial"');
  });
});

describe('true_false', () => {
  it('requires a boolean and nothing else', () => {
    assertProblem({ ...trueFalse, correct: 'true' }, 'correct: must be true or false');
    assertProblem({ ...trueFalse, correct: undefined }, 'correct: is required');
    assertProblem({ ...trueFalse, options: abc }, /^unknown field "options"; a true_false question has/);
    assert.equal(valid({ ...trueFalse, correct: false }).type, 'true_false');
  });
});

describe('short_text', () => {
  it('defaults match to normalized', () => {
    const q = valid(shortText);
    assert.equal(q.type === 'short_text' && q.match, 'normalized');
  });

  it('checks accepted answers', () => {
    assertProblem({ ...shortText, accepted: [] }, 'accepted: need at least 1 accepted answer');
    assertProblem({ ...shortText, accepted: ['Paris', ' '] }, 'accepted.1: must not be empty');
    assertProblem({ ...shortText, accepted: ['x'.repeat(1001)] }, 'accepted.0: must be at most 1000 characters');
    assertProblem({ ...shortText, accepted: 'Paris' }, 'accepted: must be a list of accepted answers');
    const fifty = Array.from({ length: 50 }, (_, i) => `answer ${i}`);
    valid({ ...shortText, accepted: fifty });
    assertProblem({ ...shortText, accepted: [...fifty, 'one more'] }, 'accepted: at most 50 accepted answers');
    assertProblem({ ...shortText, match: 'fuzzy' }, 'match: must be one of "exact", "normalized", "regex"');
  });

  it('only allows caseInsensitive with regex matching', () => {
    const msg = 'caseInsensitive: only applies when match is "regex"; "normalized" already ignores case and "exact" respects it';
    assertProblem({ ...shortText, caseInsensitive: true }, msg);
    assertProblem({ ...shortText, match: 'exact', caseInsensitive: true }, msg);
    valid({ ...shortText, match: 'exact', caseInsensitive: false });
    valid({ ...shortText, accepted: ['colou?r'], match: 'regex', caseInsensitive: true });
  });

  it('accepts ordinary regex answers', () => {
    const patterns = [
      'colou?r',
      '(the )?mitochondri(on|a)',
      '\\d+:\\d+:\\d+',
      '\\d+([.,]\\d+)?\\s?km',
      '.*photosynthesis.*',
      '.*(cat|dog|cow).*',
      '(cat|dog)s?',
      '[0-9]{1,3}(\\.[0-9]{3})*',
      '(?:north|south)[- ]?(?:east|west)(?:ern)?',
      'H₂O|water',
    ];
    valid({ ...shortText, match: 'regex', accepted: patterns });
  });

  it('reports a regex that does not compile, with its index', () => {
    assertProblem(
      { ...shortText, match: 'regex', accepted: ['ok', '(unclosed'] },
      'accepted.1: not a valid regular expression (Unicode mode): Unterminated group',
    );
    // Would escape the whole-answer anchor if it were wrapped before being checked.
    assertProblem({ ...shortText, match: 'regex', accepted: ['a)|(b'] }, /^accepted\.0: not a valid regular expression/);
    assertProblem(
      { ...shortText, match: 'regex', accepted: ['x'.repeat(501)] },
      'accepted.0: pattern is 501 characters long; the limit is 500',
    );
  });

  it('rejects patterns that can backtrack catastrophically, naming the cause', () => {
    const cases: [string, RegExp][] = [
      ['(a+)+', /^nested quantifier in "\(a\+\)\+": the repeated part already contains the quantifier "a\+"/],
      ['(.*)*', /^nested quantifier in "\(\.\*\)\*"/],
      ['(a*)*b', /^nested quantifier/],
      ['(\\w+\\s?)*', /^nested quantifier/],
      ['(x+x+)+y', /^nested quantifier/],
      ['(a?){25}a{25}', /^nested quantifier in "\(a\?\)\{25\}"/],
      ['(?:\\d+,)*\\d+', /^nested quantifier/],
      ['(a|a)*', /^ambiguous alternation "\(a\|a\)" inside the repeated "\(a\|a\)\*"/],
      ['(a|ab)*c', /^ambiguous alternation/],
      ['(\\d|x)+', /^ambiguous alternation/],
      ['(?:a|b|)+', /^ambiguous alternation/],
      ['((a|a)b)+', /^ambiguous alternation "\(a\|a\)" inside the repeated "\(\(a\|a\)b\)\+"/],
      ['(a)\\1', /^backreferences such as "\\1" are not allowed/],
      ['(?<w>a)\\k<w>', /^backreferences such as "\\k<name>" are not allowed/],
      ['(?=a)a', /^lookaround assertions such as "\(\?=" are not allowed/],
      ['(?<!a)b', /^lookaround assertions such as "\(\?<!" are not allowed/],
      ['.*a.*a.*b', /^too ambiguous: on a 1000-character answer this pattern could need about 10\^9 backtracking steps/],
      ['\\d+\\d+\\d+x', /^too ambiguous/],
      ['a?'.repeat(30) + 'a'.repeat(30), /^too ambiguous/],
      ['(a|a)'.repeat(25), /^too ambiguous/],
    ];
    for (const [pattern, reason] of cases) {
      const check = checkAnswerPattern(pattern);
      assert.equal(check.ok, false, `${pattern} should be rejected`);
      assert.match(check.ok ? '' : check.error, reason, pattern);
      const list = problems({ ...shortText, match: 'regex', accepted: ['fine', pattern] });
      assert.ok(
        list.some((p) => p.startsWith('accepted.1: ')),
        `${pattern}: ${list.join(' | ')}`,
      );
    }
  });

  it('decides ambiguity with the case-insensitive flag in mind', () => {
    assert.equal(checkAnswerPattern('(A|a)+').ok, true);
    assert.equal(checkAnswerPattern('(A|a)+', true).ok, false);
    // Unicode case folding: the long s folds to s under /iu.
    assert.equal(checkAnswerPattern('(s|ſ)+').ok, true);
    assert.equal(checkAnswerPattern('(s|ſ)+', true).ok, false);
    assertProblem({ ...shortText, match: 'regex', caseInsensitive: true, accepted: ['(A|a)+'] }, /^accepted\.0: ambiguous/);
  });

  it('anchors a pattern to the whole answer, alternation included', () => {
    const re = compileAnswerPattern('cat|dog');
    assert.equal(re.test('cat'), true);
    assert.equal(re.test('dog'), true);
    assert.equal(re.test('catdog'), false);
    assert.equal(re.test('a dog'), false);
    assert.equal(re.test('cats'), false);
  });
});

describe('numeric', () => {
  it('defaults tolerance to 0', () => {
    const q = valid({ type: 'numeric', stem: 's', answer: 42 });
    assert.equal(q.type === 'numeric' && q.tolerance, 0);
  });

  it('requires a finite answer and a non-negative tolerance', () => {
    assertProblem({ ...numeric, answer: Infinity }, 'answer: must be a finite number');
    assertProblem({ ...numeric, answer: Number.NaN }, 'answer: must be a finite number');
    assertProblem({ ...numeric, answer: '3' }, 'answer: must be a finite number');
    assertProblem({ ...numeric, answer: undefined }, 'answer: is required');
    assertProblem({ ...numeric, tolerance: -0.1 }, 'tolerance: must be 0 or more');
    valid({ ...numeric, answer: -1e300, tolerance: 0 });
  });
});

// ─── storage ────────────────────────────────────────────────────────────────

describe('questionBody / toQuestionInput / fromRow', () => {
  it('splits into columns with only the type-specific fields in body, and back', () => {
    for (const sample of Object.values(samples)) {
      const input = valid({ ...sample, points: 2.5, tags: ['x'], feedback: 'fb', difficulty: 'easy' });
      const columns = questionBody(input);
      assert.deepEqual(Object.keys(columns.body).sort(), [...BODY_FIELDS[input.type]].filter((k) => k !== 'caseInsensitive').sort());
      assert.equal(columns.stem, input.stem);
      assert.equal(columns.feedback, 'fb');
      assert.equal(columns.difficulty, 'easy');
      // As read back from the database: JSON body, numeric as text.
      const stored = { ...columns, points: '2.50', body: JSON.parse(JSON.stringify(columns.body)) as unknown };
      assert.deepEqual(toQuestionInput(stored), input);
    }
  });

  it('keeps caseInsensitive in the body only when set', () => {
    const q = valid({ ...shortText, match: 'regex', accepted: ['a+'], caseInsensitive: true });
    assert.deepEqual(questionBody(q).body, { accepted: ['a+'], match: 'regex', caseInsensitive: true });
  });

  it('maps absent feedback and difficulty to NULL columns and back', () => {
    const columns = questionBody(valid(single));
    assert.equal(columns.feedback, null);
    assert.equal(columns.difficulty, null);
    const q = fromRow({ ...columns, id: 'q1', points: '1.00', status: 'draft', source: null });
    assert.equal(q.id, 'q1');
    assert.equal(q.points, 1);
    assert.equal('feedback' in q, false);
    assert.equal('difficulty' in q, false);
  });

  it('throws InvalidQuestionRowError naming the row and the problem', () => {
    const columns = questionBody(valid(single));
    const bad = { ...columns, id: 'q-bad', body: { options: abc.slice(0, 2), correct: 'z' } };
    assert.throws(
      () => fromRow(bad),
      (err: unknown) =>
        err instanceof InvalidQuestionRowError &&
        err.questionId === 'q-bad' &&
        err.message === 'stored question q-bad is invalid: body.correct: "z" is not one of the option ids a, b',
    );
    assert.throws(() => fromRow({ ...columns, id: 'q2', type: 'essay' }), /stored question q2 is invalid: type: must be one of/);
    assert.throws(() => fromRow({ ...columns, id: 'q3', body: null }), /body: .*expected object/);
    assert.throws(() => fromRow({ ...columns, id: 'q4', points: 'abc' }), /points: must be a finite|points: must be a number/);
  });

  it('tolerates extra keys in a stored body', () => {
    const columns = questionBody(valid(trueFalse));
    const q = fromRow({ ...columns, id: 'q1', body: { correct: false, legacy: 1 } });
    assert.equal(q.type === 'true_false' && q.correct, false);
  });

  it('fromContent restores a question serialised as JSON', () => {
    const q = withId(multiple, 'q9');
    const restored = fromContent('q9', JSON.parse(JSON.stringify(q)));
    assert.deepEqual(restored, q);
    assert.throws(() => fromContent('q9', 'nope'), InvalidQuestionRowError);
    assert.throws(() => fromContent('q9', { ...q, correct: ['z'] }), /correct\.0: "z" is not one of the option ids/);
  });

  it('fromContent accepts the source citation publishing freezes beside a generated question', () => {
    const q = withId(multiple, 'q9');
    const frozen = { ...(JSON.parse(JSON.stringify(q)) as object), source: { materialId: 'm1', page: 3, quote: 'A sentence.' } };
    assert.deepEqual(fromContent('q9', frozen), q);
  });
});

// ─── patches ────────────────────────────────────────────────────────────────

describe('questionPatchSchema / applyQuestionPatch', () => {
  const patch = (raw: unknown) => questionPatchSchema.parse(raw);

  it('adds no defaults: an empty patch changes nothing', () => {
    assert.deepEqual(patch({}), {});
    const current = withId(single);
    const r = applyQuestionPatch(current, patch({}));
    assert.ok(r.ok);
    assert.deepEqual(r.value, valid(single));
  });

  it('changes only the given fields and drops the id of a stored question', () => {
    const current = withId({ ...single, tags: ['a'], points: 3 });
    const r = applyQuestionPatch(current, patch({ stem: 'New stem', tags: ['B'] }));
    assert.ok(r.ok);
    assert.equal(r.value.stem, 'New stem');
    assert.deepEqual(r.value.tags, ['b']);
    assert.equal(r.value.points, 3);
    assert.equal('id' in r.value, false);
  });

  it('refuses to change the type', () => {
    const r = applyQuestionPatch(withId(single), patch({ type: 'numeric', answer: 3 }));
    assert.equal(r.ok, false);
    assert.deepEqual(r.ok ? [] : formatIssues(r.error), [
      'type: cannot change from single_choice to numeric; create a new question instead',
      'answer: does not apply to single_choice questions (their answer fields are options, correct)',
    ]);
    assert.ok(applyQuestionPatch(withId(single), patch({ type: 'single_choice' })).ok);
  });

  it('validates rules across fields on the merged result', () => {
    const r = applyQuestionPatch(withId(single), patch({ options: [abc[0], abc[2]] }));
    assert.equal(r.ok, false);
    assert.deepEqual(r.ok ? [] : formatIssues(r.error), ['correct: "b" is not one of the option ids a, c']);
    assert.deepEqual(r.ok ? [] : issueList(r.error), [{ path: 'correct', message: '"b" is not one of the option ids a, c' }]);
  });

  it('clears optional fields with null', () => {
    const current = withId({ ...single, feedback: 'fb', difficulty: 'hard' });
    const r = applyQuestionPatch(current, patch({ feedback: null, difficulty: null }));
    assert.ok(r.ok);
    assert.equal('feedback' in r.value, false);
    assert.equal('difficulty' in r.value, false);

    const regex = withId({ ...shortText, match: 'regex', accepted: ['a+'], caseInsensitive: true });
    const stillFlagged = applyQuestionPatch(regex, patch({ match: 'normalized' }));
    assert.equal(stillFlagged.ok, false);
    const cleared = applyQuestionPatch(regex, patch({ match: 'normalized', caseInsensitive: null }));
    assert.ok(cleared.ok);
    assert.deepEqual(questionBody(cleared.value).body, { accepted: ['a+'], match: 'normalized' });
  });

  it('checks patch fields one by one, with the same messages', () => {
    const bad = (raw: unknown) => {
      const r = questionPatchSchema.safeParse(raw);
      assert.equal(r.success, false);
      return formatIssues(r.error);
    };
    assert.deepEqual(bad({ points: 0 }), ['points: must be greater than 0']);
    assert.deepEqual(bad({ status: 'approved' }), [
      'unknown field "status"; a question patch has: type, stem, points, feedback, tags, difficulty, options, correct, scoring, accepted, match, caseInsensitive, answer, tolerance',
    ]);
    assert.deepEqual(bad({ correct: 3 }), ['correct: must be an option id, a list of option ids, or true/false']);
    assert.deepEqual(bad({ stem: '' }), ['stem: must not be empty']);
  });
});

// ─── responses ──────────────────────────────────────────────────────────────

describe('parseResponse', () => {
  const q = {
    single: valid(single),
    multiple: valid(multiple),
    trueFalse: valid(trueFalse),
    shortText: valid(shortText),
    numeric: valid(numeric),
  };
  const ok = (question: QuestionInput, raw: unknown, expected: unknown) => {
    assert.deepEqual(parseResponse(question, raw), { ok: true, value: expected });
  };
  const err = (question: QuestionInput, raw: unknown, expected: string) => {
    assert.deepEqual(parseResponse(question, raw), { ok: false, error: expected });
  };

  it('single_choice: an existing option id', () => {
    ok(q.single, 'a', 'a');
    err(q.single, 'z', '"z" is not one of the option ids a, b, c');
    err(q.single, 1, 'expected an option id (a string), got number 1');
    err(q.single, ['a'], 'expected an option id (a string), got a list');
    err(q.single, null, 'expected an option id (a string), got null');
    err(q.single, { id: 'a' }, 'expected an option id (a string), got an object');
  });

  it('multiple_response: a list of distinct existing option ids', () => {
    ok(q.multiple, ['c', 'a'], ['c', 'a']);
    ok(q.multiple, [], []);
    err(q.multiple, 'a', 'expected a list of option ids, got text "a"');
    err(q.multiple, ['a', 'a'], '"a" is selected twice');
    err(q.multiple, ['a', 'z'], '"z" is not one of the option ids a, b, c');
    err(q.multiple, ['a', 1], 'item 1: expected an option id (a string), got number 1');
  });

  it('true_false: a boolean only', () => {
    ok(q.trueFalse, false, false);
    err(q.trueFalse, 'true', 'expected true or false, got text "true"');
    err(q.trueFalse, 1, 'expected true or false, got number 1');
  });

  it('short_text: text up to 1000 characters', () => {
    ok(q.shortText, 'Paris', 'Paris');
    ok(q.shortText, '', '');
    ok(q.shortText, 'x'.repeat(1000), 'x'.repeat(1000));
    err(q.shortText, 'x'.repeat(1001), 'answer is 1001 characters long; the limit is 1000');
    err(q.shortText, 5, 'expected text, got number 5');
  });

  it('numeric: numbers, or text with "." or "," as the decimal separator', () => {
    ok(q.numeric, 3.5, 3.5);
    ok(q.numeric, -0, -0);
    ok(q.numeric, '3.5', 3.5);
    ok(q.numeric, '3,5', 3.5);
    ok(q.numeric, ' -2 ', -2);
    ok(q.numeric, '+1e3', 1000);
    ok(q.numeric, '6.02E23', 6.02e23);
    ok(q.numeric, '.5', 0.5);
    ok(q.numeric, '5.', 5);
    ok(q.numeric, '６,５', 6.5); // full-width digits and comma
    ok(q.numeric, '\u22124', -4); // typographic minus sign
    ok(q.numeric, '1,000', 1); // documented: a comma is always the decimal separator
    const hint = 'is not a number; write it like 3.5 or 3,5 (no thousands separators)';
    for (const bad of ['abc', '', '1.000,5', '1 000', '0x10', '1e400', 'Infinity', 'NaN', '3.5.1', '--3', '1e']) {
      err(q.numeric, bad, `"${bad}" ${hint}`);
    }
    err(q.numeric, '1'.repeat(65), `"${'1'.repeat(40)}" ${hint}`);
    err(q.numeric, Infinity, 'expected a finite number, got Infinity');
    err(q.numeric, Number.NaN, 'expected a finite number, got NaN');
    err(q.numeric, true, 'expected a number, got boolean true');
    err(q.numeric, [3], 'expected a number, got a list');
  });
});

// ─── candidate view ─────────────────────────────────────────────────────────

describe('publicView', () => {
  const secretKeys = ['correct', 'accepted', 'match', 'caseInsensitive', 'answer', 'tolerance', 'feedback', 'scoring', 'tags', 'difficulty'];

  function keysDeep(value: unknown, into = new Set<string>()): Set<string> {
    if (Array.isArray(value)) value.forEach((v) => keysDeep(v, into));
    else if (value && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) {
        into.add(k);
        keysDeep(v, into);
      }
    }
    return into;
  }

  const authored = {
    single: { ...single, feedback: 'SECRET-FEEDBACK', tags: ['secret-tag'], difficulty: 'hard' },
    multiple: { ...multiple, scoring: 'partial', feedback: 'SECRET-FEEDBACK' },
    trueFalse: { ...trueFalse, feedback: 'SECRET-FEEDBACK' },
    shortText: { ...shortText, accepted: ['SECRET-ANSWER', 'Paris'], feedback: 'SECRET-FEEDBACK' },
    numeric: { ...numeric, feedback: 'SECRET-FEEDBACK' },
  };

  for (const [name, input] of Object.entries(authored)) {
    it(`never leaks answers or feedback: ${name}`, () => {
      const question = withId(input);
      const json = JSON.stringify(publicView(question));
      const parsed = JSON.parse(json) as unknown;
      const keys = keysDeep(parsed);
      for (const secret of secretKeys) assert.equal(keys.has(secret), false, `${name} leaks "${secret}": ${json}`);
      for (const text of ['SECRET-FEEDBACK', 'SECRET-ANSWER', 'secret-tag', '98765', 'Paris']) {
        assert.equal(json.includes(text), false, `${name} leaks ${text}: ${json}`);
      }
      publicQuestionSchema.parse(parsed);
    });
  }

  it('shows id, type, stem, points and, for choice questions, options', () => {
    assert.deepEqual(publicView(withId({ ...single, points: 2 }, 'q1')), {
      id: 'q1',
      type: 'single_choice',
      stem: 'Pick one',
      points: 2,
      options: abc,
    });
    assert.deepEqual(publicView(withId(numeric, 'q2')), { id: 'q2', type: 'numeric', stem: 'How far?', points: 1 });
  });

  it('copies options instead of sharing them with the graded question', () => {
    const question = withId(single);
    const view = publicView(question);
    assert.ok('options' in view && question.type === 'single_choice');
    assert.notEqual(view.options[0], question.options[0]);
  });
});

// ─── OpenAPI ────────────────────────────────────────────────────────────────

describe('schemas for OpenAPI', () => {
  it('convert to JSON Schema', () => {
    for (const schema of [questionInputSchema, questionPatchSchema, responseValueSchema, publicQuestionSchema]) {
      const json = z.toJSONSchema(schema, { io: 'input' });
      assert.equal(typeof json, 'object');
    }
    const input = JSON.stringify(z.toJSONSchema(questionInputSchema, { io: 'input' }));
    assert.match(input, /"maxLength":10000/);
    assert.match(input, /"additionalProperties":false/);
  });
});
