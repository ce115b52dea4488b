import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { exactForm, gradeAttempt, gradeResponse, normalizeAnswer } from './grading.ts';
import { questionInputSchema, type Question, type QuestionInputRaw } from './model.ts';

let nextId = 1;
function question(input: QuestionInputRaw): Question {
  return { ...questionInputSchema.parse(input), id: `q${nextId++}` };
}

const options = (ids: string) => [...ids].map((id) => ({ id, text: `Option ${id}` }));

function score(q: Question, value: unknown): number {
  return gradeResponse(q, value).score;
}

/** Responses no question type accepts, or that belong to another type. */
const junk: unknown[] = [undefined, null, {}, [], [[]], '', 'zzz', 0, -1, Number.NaN, Infinity, true, false, [null], { value: 'a' }];

describe('gradeResponse', () => {
  it('scores 0 without throwing for missing, null or malformed responses of every type', () => {
    const all = [
      question({ type: 'single_choice', stem: 's', options: options('ab'), correct: 'a' }),
      question({ type: 'multiple_response', stem: 's', options: options('ab'), correct: ['a'], scoring: 'partial' }),
      question({ type: 'true_false', stem: 's', correct: true }),
      question({ type: 'short_text', stem: 's', accepted: ['x'] }),
      question({ type: 'numeric', stem: 's', answer: 1 }),
    ];
    for (const q of all) {
      for (const value of junk) {
        const r = gradeResponse(q, value);
        // The one junk value that is a genuinely right answer: `true` to a true statement.
        const expected = q.type === 'true_false' && value === true ? 1 : 0;
        assert.equal(r.score, expected, `${q.type} scored ${r.score} for ${String(value)}`);
        assert.equal(r.maxScore, 1);
      }
    }
    assert.deepEqual(gradeResponse(all[0]!, undefined), { score: 0, maxScore: 1, correct: false });
  });

  describe('single_choice', () => {
    const q = question({ type: 'single_choice', stem: 's', points: 2, options: options('abc'), correct: 'b' });
    it('gives full points only for the correct option', () => {
      assert.deepEqual(gradeResponse(q, 'b'), { score: 2, maxScore: 2, correct: true });
      assert.deepEqual(gradeResponse(q, 'a'), { score: 0, maxScore: 2, correct: false });
      assert.equal(score(q, 'z'), 0);
      assert.equal(score(q, ['b']), 0);
    });
  });

  describe('true_false', () => {
    const q = question({ type: 'true_false', stem: 's', correct: false });
    it('compares booleans, not text', () => {
      assert.equal(score(q, false), 1);
      assert.equal(score(q, true), 0);
      assert.equal(score(q, 'false'), 0);
      assert.equal(score(q, 0), 0);
    });
  });

  describe('multiple_response', () => {
    it('all_or_nothing: exactly the correct set, in any order', () => {
      const q = question({ type: 'multiple_response', stem: 's', points: 3, options: options('abcde'), correct: ['a', 'c'] });
      assert.deepEqual(gradeResponse(q, ['c', 'a']), { score: 3, maxScore: 3, correct: true });
      assert.equal(score(q, ['a']), 0);
      assert.equal(score(q, ['a', 'c', 'd']), 0);
      assert.equal(score(q, []), 0);
      assert.equal(score(q, ['a', 'a', 'c']), 0); // duplicates are invalid, not double credit
    });

    it('partial: points × max(0, (right − wrong) / number correct)', () => {
      const q = question({
        type: 'multiple_response',
        stem: 's',
        points: 3,
        options: options('abcde'),
        correct: ['a', 'b', 'c'],
        scoring: 'partial',
      });
      assert.deepEqual(gradeResponse(q, ['a', 'b', 'c']), { score: 3, maxScore: 3, correct: true });
      assert.deepEqual(gradeResponse(q, ['a', 'b']), { score: 2, maxScore: 3, correct: false });
      assert.equal(score(q, ['a']), 1);
      assert.equal(score(q, ['a', 'b', 'd']), 1);
      assert.equal(score(q, ['a', 'b', 'c', 'd']), 2);
      assert.equal(score(q, ['a', 'd']), 0);
      assert.equal(score(q, ['a', 'd', 'e']), 0); // negative net is clamped to 0
      assert.equal(score(q, ['d', 'e']), 0);
      assert.equal(score(q, []), 0);
      assert.equal(score(q, ['a', 'b', 'c', 'd', 'e']), 1);
    });

    it('partial: rounds to 0.01, half up, without float residue', () => {
      const thirds = question({
        type: 'multiple_response',
        stem: 's',
        points: 1,
        options: options('abcd'),
        correct: ['a', 'b', 'c'],
        scoring: 'partial',
      });
      assert.equal(score(thirds, ['a']), 0.33);
      assert.equal(score(thirds, ['a', 'b']), 0.67);

      const half = question({
        type: 'multiple_response',
        stem: 's',
        points: 0.05,
        options: options('abc'),
        correct: ['a', 'b'],
        scoring: 'partial',
      });
      assert.equal(score(half, ['a']), 0.03); // 2.5 hundredths rounds up

      const odd = question({
        type: 'multiple_response',
        stem: 's',
        points: 0.5,
        options: options('abcd'),
        correct: ['a', 'b', 'c'],
        scoring: 'partial',
      });
      assert.equal(score(odd, ['a']), 0.17);
      assert.equal(score(odd, ['a', 'b']), 0.33);
    });
  });

  describe('short_text', () => {
    it('normalized: ignores case, outer/inner whitespace and compatibility forms', () => {
      const q = question({ type: 'short_text', stem: 's', accepted: ['Paris', 'New York', 'fish', 'Straße'] });
      for (const answer of [
        'Paris',
        'paris',
        '  PARIS \n',
        'Ｐａｒｉｓ', // full-width letters (NFKC)
        'new   york',
        'New\tYork',
        'new\u00a0york', // no-break space
        'NEW\u3000YORK', // ideographic space
        'ﬁsh', // "fi" ligature
        'STRASSE', // full case folding: ß ~ SS
        'strasse',
      ]) {
        assert.equal(score(q, answer), 1, JSON.stringify(answer));
      }
      for (const answer of ['Pariss', 'Par is', 'NewYork', 'Pari', '']) {
        assert.equal(score(q, answer), 0, JSON.stringify(answer));
      }
    });

    it('normalized: accents still count', () => {
      const q = question({ type: 'short_text', stem: 's', accepted: ['Zürich'] });
      assert.equal(score(q, 'ZÜRICH'), 1);
      assert.equal(score(q, 'Zu\u0308rich'), 1); // decomposed ü
      assert.equal(score(q, 'Zurich'), 0);
    });

    it('exact: case and inner spacing count, outer whitespace and composition do not', () => {
      const q = question({ type: 'short_text', stem: 's', accepted: ['Café au lait'], match: 'exact' });
      assert.equal(score(q, 'Café au lait'), 1);
      assert.equal(score(q, '  Café au lait\n'), 1);
      assert.equal(score(q, 'Cafe\u0301 au lait'), 1); // e + combining acute = é
      assert.equal(score(q, 'café au lait'), 0);
      assert.equal(score(q, 'Café  au lait'), 0);
      assert.equal(score(q, 'Ｃafé au lait'), 0);
    });

    it('regex: matches the whole (trimmed) answer', () => {
      const q = question({ type: 'short_text', stem: 's', accepted: ['colou?r', 'cat|dog'], match: 'regex' });
      for (const answer of ['color', 'colour', ' colour ', 'cat', 'dog']) assert.equal(score(q, answer), 1, answer);
      for (const answer of ['colors', 'my color', 'Color', 'catdog', 'a dog', 'cats']) assert.equal(score(q, answer), 0, answer);
    });

    it('regex: caseInsensitive', () => {
      const q = question({ type: 'short_text', stem: 's', accepted: ['colou?r'], match: 'regex', caseInsensitive: true });
      assert.equal(score(q, 'COLOUR'), 1);
      assert.equal(score(q, 'Color'), 1);
    });

    it('regex: answers beyond 1000 characters score 0 before any pattern runs', () => {
      const q = question({ type: 'short_text', stem: 's', accepted: ['.*a.*b'], match: 'regex' });
      assert.equal(score(q, `${'a'.repeat(998)}b`), 1);
      assert.equal(score(q, 'a'.repeat(1000)), 0); // the worst case the budget allows
      assert.equal(score(q, `${'a'.repeat(1000)}b`), 0);
    });

    it('grades the same question object repeatedly with the same result', () => {
      const q = question({ type: 'short_text', stem: 's', accepted: ['Paris'] });
      for (let i = 0; i < 3; i++) {
        assert.equal(score(q, 'paris'), 1);
        assert.equal(score(q, 'lyon'), 0);
      }
    });
  });

  describe('numeric', () => {
    it('is exact at tolerance 0, up to float representation noise', () => {
      const q = question({ type: 'numeric', stem: 's', answer: 0.3 });
      assert.notEqual(0.1 + 0.2, 0.3); // the trap
      assert.equal(score(q, 0.1 + 0.2), 1);
      assert.equal(score(q, 0.3), 1);
      assert.equal(score(q, '0,3'), 1);
      assert.equal(score(q, 0.30001), 0);
      assert.equal(score(q, 0.3000000001), 0);
    });

    it('passes exactly at the tolerance on both sides and fails just beyond', () => {
      const q = question({ type: 'numeric', stem: 's', answer: 10, tolerance: 0.1 });
      assert.equal(10.1 - 10 <= 0.1, true); // 0.09999999999999964
      assert.equal(score(q, 10.1), 1);
      assert.equal(score(q, 9.9), 1);
      assert.equal(score(q, '10,1'), 1);
      assert.equal(score(q, 10.1000001), 0);
      assert.equal(score(q, 9.8999999), 0);

      // A case where the float difference lands above the tolerance.
      const r = question({ type: 'numeric', stem: 's', answer: 0.3, tolerance: 0.1 });
      assert.equal(0.4 - 0.3 > 0.1, true); // 0.10000000000000003
      assert.equal(score(r, 0.4), 1);
      assert.equal(score(r, 0.2), 1);
      assert.equal(score(r, 0.4000001), 0);
    });

    it('uses a relative epsilon: tiny answers are not swallowed, huge ones are not too strict', () => {
      const tiny = question({ type: 'numeric', stem: 's', answer: 1e-15 });
      assert.equal(score(tiny, 0), 0);
      assert.equal(score(tiny, 1e-15), 1);
      assert.equal(score(tiny, '0.000000000000001'), 1);

      const huge = question({ type: 'numeric', stem: 's', answer: 6.02214076e23 });
      assert.equal(score(huge, '602214076000000000000000'), 1);
      assert.equal(score(huge, 6.0221408e23), 0);

      const zero = question({ type: 'numeric', stem: 's', answer: 0 });
      assert.equal(score(zero, -0), 1);
      assert.equal(score(zero, 1e-300), 0);
    });

    it('handles negatives and malformed text', () => {
      const q = question({ type: 'numeric', stem: 's', answer: -5, tolerance: 0 });
      assert.equal(score(q, '-5'), 1);
      assert.equal(score(q, '\u22125'), 1);
      assert.equal(score(q, 5), 0);
      assert.equal(score(q, 'minus five'), 0);
      assert.equal(score(q, '-5 kg'), 0);
    });

    it('never overflows into a match', () => {
      const q = question({ type: 'numeric', stem: 's', answer: -1.7e308, tolerance: 1e308 });
      assert.equal(score(q, 1.7e308), 0);
    });
  });
});

describe('gradeAttempt', () => {
  it('totals exactly and reports each question in order', () => {
    const a = question({ type: 'single_choice', stem: 's', points: 0.1, options: options('ab'), correct: 'a' });
    const b = question({ type: 'true_false', stem: 's', points: 0.2, correct: true });
    const c = question({
      type: 'multiple_response',
      stem: 's',
      points: 1,
      options: options('abcd'),
      correct: ['a', 'b', 'c'],
      scoring: 'partial',
    });
    const d = question({ type: 'numeric', stem: 's', points: 2, answer: 42 });
    const e = question({ type: 'short_text', stem: 's', points: 1.5, accepted: ['Paris'] });

    const responses = new Map<string, unknown>([
      [a.id, 'a'],
      [b.id, true],
      [c.id, ['a']],
      [d.id, 'forty-two'], // invalid: counts as unanswered
      // e: no response
    ]);
    const result = gradeAttempt([a, b, c, d, e], responses);
    assert.equal(result.score, 0.63); // 0.1 + 0.2 + 0.33, exactly
    assert.equal(result.maxScore, 4.8);
    assert.equal(result.correctCount, 2);
    assert.equal(result.answeredCount, 3);
    assert.deepEqual(result.questions, [
      { questionId: a.id, score: 0.1, maxScore: 0.1, correct: true, answered: true },
      { questionId: b.id, score: 0.2, maxScore: 0.2, correct: true, answered: true },
      { questionId: c.id, score: 0.33, maxScore: 1, correct: false, answered: true },
      { questionId: d.id, score: 0, maxScore: 2, correct: false, answered: false },
      { questionId: e.id, score: 0, maxScore: 1.5, correct: false, answered: false },
    ]);
  });

  it('adds many small scores without drift', () => {
    const qs = Array.from({ length: 100 }, () => question({ type: 'true_false', stem: 's', points: 0.1, correct: true }));
    const result = gradeAttempt(qs, new Map(qs.map((q) => [q.id, true])));
    assert.equal(result.score, 10);
    assert.equal(result.maxScore, 10);
  });

  it('handles an empty paper and ignores responses to other questions', () => {
    assert.deepEqual(gradeAttempt([], new Map([['other', 'a']])), {
      score: 0,
      maxScore: 0,
      correctCount: 0,
      answeredCount: 0,
      questions: [],
    });
  });

  it('survives a JSON round trip of its result', () => {
    const q = question({ type: 'true_false', stem: 's', correct: true });
    const result = gradeAttempt([q], new Map([[q.id, true]]));
    assert.deepEqual(JSON.parse(JSON.stringify(result)), result);
  });
});

describe('comparison forms', () => {
  it('normalizeAnswer', () => {
    assert.equal(normalizeAnswer('  Ｈｅｌｌｏ \t  Wörld  '), 'hello wörld');
    assert.equal(normalizeAnswer('Maße'), 'masse');
    assert.equal(normalizeAnswer('x²'), 'x2'); // NFKC: superscripts become digits
  });

  it('exactForm', () => {
    assert.equal(exactForm('  Hello  World \n'), 'Hello  World');
    assert.equal(exactForm('e\u0301'), '\u00e9');
  });
});
