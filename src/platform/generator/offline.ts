/**
 * Offline question generator: real questions built from the text alone, with
 * no network and no key, so the embedded run mode and every test can produce
 * a question bank. Deterministic: the same request gives the same questions
 * (randomness comes from a PRNG seeded with the request's content).
 *
 * How: split pages into sentences; keep informative ones (length bounds,
 * mostly letters, no formulas, references or boilerplate); find the
 * document's key terms (capitalised multi-word names, frequent word pairs,
 * frequent non-stopwords); then turn a sentence into a question about one of
 * its terms (or numbers). Each question is answerable from the one sentence
 * it cites, and wrong options are other terms of the same document, so they
 * are plausible without being made up.
 *
 * Lead-in phrases exist in English and German; pages in other languages
 * (Arabic, say) get English lead-ins around their own sentences.
 */
import { createHash } from 'node:crypto';
import type { Difficulty, QuestionType } from '../../modules/questions/model.ts';
import { seededRandom, shuffle } from '../../lib/seeded-random.ts';
import { sentenceSpans } from './chunking.ts';
import { validateCitations } from './citations.ts';
import { checkRequest, emptyUsage, type GenerateRequest, type GenerateResult, type QuestionGenerator } from './index.ts';

export function createOfflineGenerator(): QuestionGenerator {
  return {
    kind: 'offline',
    model: 'offline',
    async generate(request) {
      request.signal?.throwIfAborted();
      return generateOffline(request);
    },
    async close() {},
  };
}

/** The offline generator as a plain function; `createOfflineGenerator` wraps it in the port. */
export function generateOffline(request: GenerateRequest): GenerateResult {
  checkRequest(request);
  const doc = analyse(request);
  const built = pickQuestions(doc, request);
  // The citation check is the port's guarantee; for this adapter it is a safety net, never expected to drop.
  const { kept, dropped } = validateCitations(built, request.pages);
  return { questions: kept, dropped, usage: emptyUsage(), model: 'offline' };
}

// ─── Vocabulary ─────────────────────────────────────────────────────────────

const STOPWORDS = new Set(
  (
    // English
    'a about above after again against all almost also although always am among an and another any anyone are around as at ' +
    'be because been before being below between both but by can cannot could did do does doing done down during each either ' +
    'else enough even ever every few for from further had has have having he her here hers herself him himself his how however ' +
    'i if in into is it its itself just least less let like likely made make makes many may me might more most much must my ' +
    'neither no nor not now of off often on once one only or other others otherwise our ours out over own per perhaps rather ' +
    'same several shall she should since so some such than that the their theirs them themselves then there thereby therefore ' +
    'these they this those though through thus to too under until up upon us used uses using use very via was we well were ' +
    'what when where whether which while who whom whose why will with within without would yet you your yours ' +
    'also already instead still whereas hence first second third new example examples figure figures table tables section ' +
    'sections page pages paper chapter shown show shows based given order number case cases part way ways time times ' +
    'following follows thing things called call calls need needs needed able must within across onto toward towards ' +
    // German
    'aber alle allem allen aller alles als also am an ander andere anderen anderer anderes auch auf aus bei beim bin bis ' +
    'bist da dabei dadurch daher damit dann darauf darin darum das dass dem den denen denn der deren des deshalb dessen die ' +
    'dies diese diesem diesen dieser dieses doch dort du durch ein eine einem einen einer eines einige einmal er es etwa ' +
    'etwas euch fast für gegen gibt habe haben hat hatte hier ich ihm ihn ihnen ihr ihre ihrem ihren ihrer im immer in ins ' +
    'ist ja jede jedem jeden jeder jedes jedoch jetzt kann kein keine keinem keinen keiner können könnte man manche mehr ' +
    'mit muss müssen nach nicht nichts noch nun nur ob oder ohne schon sehr sei seien sein seine seinem seinen seiner ' +
    'seit sich sie sind so sodass solche soll sollen sondern sowie über um und uns unser unter viel viele vom von vor ' +
    'wann war waren warum was weil welche welchem welchen welcher welches wenn wer werden wie wieder wir wird wo wobei ' +
    'wurde wurden zu zum zur zwar zwei zwischen gilt gelten heißt also falls somit bzw sei seien dann beispiel abbildung ' +
    'seite kapitel satz definition bemerkung beweis lemma folgt folgenden aufgabe aufgaben hinweis lösung ' +
    // Arabic function words, so they never become "key terms"
    'في من على إلى عن مع بين حيث كما لكن أو أن إن قد لقد عند بعد قبل كل بعض غير هو هي هم نحن ليس ما لا لم لن التي الذي ' +
    'هذا هذه ذلك تلك كان كانت'
  ).split(/\s+/u),
);

// Words that, right before a number, make it a label rather than a fact ("Figure 3").
const LABEL_WORDS = /(?:figure|fig|table|section|chapter|page|equation|eq|step|line|abbildung|abb|tabelle|kapitel|seite|satz|bemerkung|definition|lemma|beispiel|aufgabe|nr|no)\.?\s*$/iu;
const WORD = /\p{L}[\p{L}\p{M}]*(?:[-'’]\p{L}[\p{L}\p{M}]*)*/gu;
const MATH = /[=<>≤≥∈∉⊆⊂⊇⊃∪∩∀∃→←⇒⇔↦∑∏∫√±×÷∞∅{}|\\^_~∗•]/u;
const NOISE = /https?:|www\.|@|©|\bdoi\b|ISBN|copyright|all rights reserved|permission to make|to copy otherwise|\bproceedings\b|\bpp\.|conference on|journal of/iu;
const NUMBER = /(?<![\p{L}\p{N}.,[(#$€£§/-])\d+(?:[.,]\d+)?(?![\p{L}\p{N}%]|[.,]\p{N})/gu;
const CAPTION = /^(?:figure|fig\.|table|listing|algorithm|abbildung|abb\.|tabelle)\s*\d/iu;
const BLANK = '_____';

// ─── Document analysis ──────────────────────────────────────────────────────

interface Sentence {
  page: number;
  /** Position in the document, for stable ordering. */
  order: number;
  /** The sentence as it stands on the page, whitespace collapsed: the quote. */
  quote: string;
  /** NFKC, invisible marks removed, whitespace collapsed: what stems are built from. */
  text: string;
  tokens: Token[];
}

interface Token {
  word: string;
  lower: string;
  index: number;
  end: number;
}

interface Term {
  /** Lower-cased words joined by one space. */
  key: string;
  /** The form the document uses most. */
  display: string;
  words: number;
  capitalised: boolean;
  score: number;
}

interface TermHit {
  term: Term;
  index: number;
  surface: string;
}

interface Candidate {
  sentence: Sentence;
  hits: TermHit[];
  numbers: { index: number; surface: string; value: number }[];
  score: number;
}

interface Doc {
  lang: 'en' | 'de';
  terms: Term[];
  candidates: Candidate[];
  /** Words written with a capital in mid-sentence somewhere: names, or German nouns. */
  names: Set<string>;
  random: () => number;
}

const MAX_TERMS = 80;

function analyse(request: GenerateRequest): Doc {
  const sentences: Sentence[] = [];
  for (const { page, text } of request.pages) {
    for (const span of sentenceSpans(text)) {
      const raw = text.slice(span.start, span.end);
      const clean = collapse(raw.normalize('NFKC').replace(/\p{Cf}/gu, ''));
      const tokens = [...clean.matchAll(WORD)].map((m) => ({ word: m[0], lower: m[0].toLowerCase(), index: m.index, end: m.index + m[0].length }));
      sentences.push({ page, order: sentences.length, quote: collapse(raw), text: clean, tokens });
    }
  }
  const names = new Set<string>();
  for (const s of sentences) for (const t of s.tokens.slice(1)) if (t.word !== t.lower) names.add(t.word);

  const lang = pickLanguage(request.language, sentences);
  const terms = findTerms(sentences);
  const termIndex = new Map(terms.map((t) => [t.key, t]));
  const decimalComma = lang === 'de';
  const seenText = new Set<string>();
  const candidates: Candidate[] = [];
  for (const sentence of sentences) {
    // Running headers repeat on every page; one question per distinct sentence.
    if (!isInformative(sentence) || seenText.has(sentence.text)) continue;
    seenText.add(sentence.text);
    const hits = termHits(sentence, termIndex);
    const numbers = numberHits(sentence.text, decimalComma);
    if (hits.length === 0 && numbers.length === 0) continue;
    const score = Math.max(0, ...hits.map((h) => h.term.score)) + 0.5 * hits.length;
    candidates.push({ sentence, hits, numbers, score });
  }

  const seed = createHash('sha256')
    .update(JSON.stringify([request.pages.map((p) => [p.page, p.text]), request.count, request.types, request.difficulty ?? null, lang]))
    .digest();
  return { lang, terms, candidates: interleavePages(candidates), names, random: seededRandom(seed.readUInt32LE(0)) };
}

const collapse = (s: string): string => s.replace(/\s+/gu, ' ').trim();

function pickLanguage(requested: string | undefined, sentences: readonly Sentence[]): 'en' | 'de' {
  const tag = requested?.toLowerCase() ?? '';
  if (tag.startsWith('de') || tag === 'german' || tag === 'deutsch') return 'de';
  if (tag !== '') return 'en';
  let en = 0;
  let de = 0;
  for (const s of sentences.slice(0, 400)) {
    for (const { lower } of s.tokens) {
      if (EN_MARKERS.has(lower)) en++;
      else if (DE_MARKERS.has(lower)) de++;
    }
  }
  return de > en ? 'de' : 'en';
}
const EN_MARKERS = new Set(['the', 'and', 'of', 'is', 'are', 'that', 'with', 'this', 'for', 'which']);
const DE_MARKERS = new Set(['der', 'die', 'und', 'ist', 'sind', 'das', 'nicht', 'mit', 'ein', 'eine']);

/** A sentence a question can be built on: prose, of a readable length, no formula, reference or boilerplate. */
function isInformative({ text, tokens }: Sentence): boolean {
  if (text.length < 30 || text.length > 320) return false;
  if (!/^["'“„(]?[\p{Lu}\p{Lo}]/u.test(text)) return false;
  // Questions in the text make poor statements; end punctuation proves it is a whole sentence.
  if (!/[.!]["'”’»)]?$/u.test(text)) return false;
  if (MATH.test(text) || NOISE.test(text) || CAPTION.test(text) || /\p{Cc}/u.test(text)) return false;
  // Punctuation after a space is what extracted formulas leave behind ("von 01 und 02 .").
  if (/\s[.,;:]/u.test(text)) return false;
  if (tokens.length < 5 || tokens.length > 50) return false;
  const visible = text.replace(/\s/gu, '');
  const letters = (visible.match(/[\p{L}\p{M}]/gu) ?? []).length;
  const digits = (visible.match(/\p{N}/gu) ?? []).length;
  if (letters / visible.length < 0.8 || digits / visible.length > 0.1) return false;
  // Variables of a formula ("Sei X ein Raum und K kompakt") or a list of initials ("A. Gal, B. Eich").
  const loneLetters = tokens.filter((t, i) => t.word.length === 1 && !(t.word === 'a' || t.word === 'I' || (i === 0 && t.word === 'A'))).length;
  if (loneLetters / tokens.length > 0.08) return false;
  // Prose has function words; keyword lists and captions ("Keywords JavaScript, trace trees.") do not.
  if (tokens.filter((t) => STOPWORDS.has(t.lower)).length / tokens.length < 0.12) return false;
  if ((text.match(/(?:^|\s)\p{Lu}\.\s/gu) ?? []).length >= 2) return false;
  // A word broken at a line end ("gen- erated") would show in the stem.
  if (/\p{Ll}- \p{Ll}/u.test(text)) return false;
  return text !== text.toUpperCase();
}

function findTerms(sentences: readonly Sentence[]): Term[] {
  interface Tally {
    count: number;
    words: number;
    forms: Map<string, number>;
    capitalised: boolean;
  }
  const tally = new Map<string, Tally>();
  const add = (surface: string, words: number, capitalised: boolean): void => {
    const key = surface.toLowerCase();
    const t = tally.get(key) ?? { count: 0, words, forms: new Map<string, number>(), capitalised };
    t.count++;
    t.forms.set(surface, (t.forms.get(surface) ?? 0) + 1);
    tally.set(key, t);
  };

  for (const { text, tokens } of sentences) {
    // Headings in capitals ("1.5. KOMPAKTHEIT") are layout, not vocabulary.
    if (text === text.toUpperCase()) continue;
    tokens.forEach((tok, i) => {
      const isStop = STOPWORDS.has(tok.lower);
      const minLength = /\p{Lo}/u.test(tok.word) ? 3 : 4;
      const shouting = /^\p{Lu}{2,}$/u.test(tok.word);
      // Short all-caps words are acronyms (JIT, VM); long ones are running headers (KOMPAKTHEIT).
      const acronym = shouting && tok.word.length <= 6;
      if (!isStop && (acronym || (!shouting && tok.word.length >= minLength))) add(tok.word, 1, /^\p{Lu}/u.test(tok.word));

      // Adjacent non-stopwords with only a space between: "trace trees", "type specialization".
      const next = tokens[i + 1];
      const pairable = (t: Token): boolean => t.word.length >= 3 && !STOPWORDS.has(t.lower) && !/^\p{Lu}{7,}$/u.test(t.word);
      if (next && pairable(tok) && pairable(next)) {
        if (text.slice(tok.end, next.index) === ' ') {
          add(`${tok.word} ${next.word}`, 2, /^\p{Lu}/u.test(tok.word) && /^\p{Lu}/u.test(next.word));
        }
      }
    });
  }

  const terms: Term[] = [];
  for (const [key, t] of tally) {
    // Capitalised names count from one mention; common words must recur to be "key".
    const minCount = t.words > 1 && t.capitalised ? 1 : 2;
    if (t.count < minCount) continue;
    let display = '';
    let best = 0;
    for (const [form, n] of t.forms) if (n > best) [display, best] = [form, n];
    const score = t.count * (t.words > 1 ? 1.6 : 1) * (t.capitalised ? 1.2 : 1);
    terms.push({ key, display, words: t.words, capitalised: t.capitalised, score });
  }
  terms.sort((a, b) => b.score - a.score || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return terms.slice(0, MAX_TERMS);
}

/** Terms that occur exactly once in the sentence: blanking one occurrence must hide the answer. */
function termHits(sentence: Sentence, terms: ReadonlyMap<string, Term>): TermHit[] {
  const seen = new Map<string, TermHit | null>();
  const note = (key: string, index: number, end: number): void => {
    const term = terms.get(key);
    if (!term) return;
    // A second occurrence disqualifies the term for this sentence.
    seen.set(key, seen.has(key) ? null : { term, index, surface: sentence.text.slice(index, end) });
  };
  const { tokens, text } = sentence;
  // Part of a compound ("0-dimensionale") is not a term of its own.
  const glued = (index: number, end: number): boolean => text[index - 1] === '-' || text[end] === '-';
  tokens.forEach((tok, i) => {
    if (glued(tok.index, tok.end)) return;
    note(tok.lower, tok.index, tok.end);
    const next = tokens[i + 1];
    if (next && !glued(next.index, next.end) && text.slice(tok.end, next.index) === ' ') note(`${tok.lower} ${next.lower}`, tok.index, next.end);
  });
  const hits = [...seen.values()].filter((h): h is TermHit => h !== null);
  return hits.sort((a, b) => b.term.score - a.term.score || a.index - b.index);
}

function numberHits(text: string, decimalComma: boolean): Candidate['numbers'] {
  const all = [...text.matchAll(NUMBER)];
  const out: Candidate['numbers'] = [];
  for (const m of all) {
    const surface = m[0];
    if (all.filter((o) => o[0] === surface).length > 1) continue;
    if (LABEL_WORDS.test(text.slice(0, m.index))) continue;
    // "01", "007": subscripts and codes, not quantities; "1)" numbers a list.
    if (/^0\d/u.test(surface) || text[m.index + surface.length] === ')') continue;
    // A separator that is not this language's decimal mark is ambiguous (1,000 vs 1.5): skip.
    if (/[.,]/u.test(surface) && !surface.includes(decimalComma ? ',' : '.')) continue;
    const value = Number(surface.replace(',', '.'));
    if (Number.isFinite(value)) out.push({ index: m.index, surface, value });
  }
  return out;
}

/** Best sentences of each page first, pages taken in turn, so questions cover the whole chunk. */
function interleavePages(candidates: Candidate[]): Candidate[] {
  const byPage = new Map<number, Candidate[]>();
  for (const c of candidates) {
    const list = byPage.get(c.sentence.page) ?? [];
    list.push(c);
    byPage.set(c.sentence.page, list);
  }
  const queues = [...byPage.values()].map((list) => list.sort((a, b) => b.score - a.score || a.sentence.order - b.sentence.order));
  const out: Candidate[] = [];
  for (let round = 0; out.length < candidates.length; round++) {
    for (const q of queues) {
      const c = q[round];
      if (c) out.push(c);
    }
  }
  return out;
}

// ─── Question building ──────────────────────────────────────────────────────

/** A question before validation: what `validateCitations` turns into a GeneratedQuestion. */
type Draft = Record<string, unknown> & { stem: string };

interface Picker {
  doc: Doc;
  materialId: string;
  difficulty: Difficulty | undefined;
  usedSentences: Set<number>;
  usedAnswers: Set<string>;
  stems: Set<string>;
}

function pickQuestions(doc: Doc, request: GenerateRequest): Draft[] {
  const picker: Picker = {
    doc,
    materialId: request.materialId,
    difficulty: request.difficulty,
    usedSentences: new Set(),
    usedAnswers: new Set(),
    stems: new Set(),
  };
  const distinct = new Set(request.types);
  const exhausted = new Set<QuestionType>();
  const out: Draft[] = [];
  // Round-robin over the requested list (repeats weight a type); a type the
  // text cannot serve any more drops out and the others take its turns.
  for (let turn = 0; out.length < request.count && exhausted.size < distinct.size; turn++) {
    const type = request.types[turn % request.types.length] as QuestionType;
    if (exhausted.has(type)) continue;
    const draft = nextQuestion(picker, type);
    if (draft) out.push(draft);
    else exhausted.add(type);
  }
  return out;
}

function nextQuestion(p: Picker, type: QuestionType): Draft | undefined {
  for (const candidate of p.doc.candidates) {
    if (p.usedSentences.has(candidate.sentence.order)) continue;
    const built = BUILDERS[type](p, candidate);
    if (!built) continue;
    const stemKey = built.draft.stem.toLowerCase();
    if (p.stems.has(stemKey)) continue;
    p.stems.add(stemKey);
    p.usedSentences.add(candidate.sentence.order);
    for (const answer of built.answers) p.usedAnswers.add(answer);
    const { sentence } = candidate;
    return {
      ...built.draft,
      points: 1,
      tags: [],
      ...(p.difficulty ? { difficulty: p.difficulty } : {}),
      feedback: TEMPLATES[p.doc.lang].feedback(sentence.page, sentence.text),
      source: { materialId: p.materialId, page: sentence.page, quote: sentence.quote },
    };
  }
  return undefined;
}

type Builder = (p: Picker, c: Candidate) => { draft: Draft; answers: string[] } | undefined;

const BUILDERS: { readonly [K in QuestionType]: Builder } = {
  short_text(p, c) {
    const hit = freshHit(p, c);
    if (!hit) return undefined;
    const stem = TEMPLATES[p.doc.lang].cloze(blankOut(c.sentence.text, [hit]));
    return { draft: { type: 'short_text', stem, accepted: [hit.surface], match: 'normalized' }, answers: [hit.term.key] };
  },

  single_choice(p, c) {
    const hit = freshHit(p, c);
    if (!hit) return undefined;
    const distractors = pickDistractors(p.doc, c, [hit.term], 3);
    if (distractors.length < 2) return undefined;
    const right = answerText(hit);
    const texts = shuffle([right, ...distractors.map((d) => caseLike(right, d.display))], p.doc.random);
    const options = texts.map((text, i) => ({ id: OPTION_IDS[i] as string, text }));
    const correct = options.find((o) => o.text === right)?.id as string;
    const stem = TEMPLATES[p.doc.lang].choice(blankOut(c.sentence.text, [hit]));
    return { draft: { type: 'single_choice', stem, options, correct }, answers: [hit.term.key] };
  },

  multiple_response(p, c) {
    const first = freshHit(p, c);
    if (!first) return undefined;
    // Two blanks side by side ("ein _____ _____") would ask for one phrase, not two terms.
    const apart = (h: TermHit): boolean => {
      const [l, r] = h.index < first.index ? [h, first] : [first, h];
      return /\p{L}/u.test(c.sentence.text.slice(l.index + l.surface.length, r.index));
    };
    const second = c.hits.find(
      (h) => h !== first && !p.usedAnswers.has(h.term.key) && !overlaps(h, first) && apart(h) && !similar(h.term.key, first.term.key),
    );
    if (!second) return undefined;
    const distractors = pickDistractors(p.doc, c, [first.term, second.term], 3);
    if (distractors.length < 2) return undefined;
    const answers = [answerText(first), answerText(second)];
    const texts = shuffle([...answers, ...distractors.map((d) => d.display)], p.doc.random);
    const options = texts.map((text, i) => ({ id: OPTION_IDS[i] as string, text }));
    const correct = options.filter((o) => answers.includes(o.text)).map((o) => o.id);
    const stem = TEMPLATES[p.doc.lang].multi(blankOut(c.sentence.text, [first, second]));
    return { draft: { type: 'multiple_response', stem, options, correct }, answers: [first.term.key, second.term.key] };
  },

  true_false(p, c) {
    const hit = freshHit(p, c);
    if (!hit) return undefined;
    const wantFalse = p.doc.random() < 0.5;
    const swap = wantFalse ? pickDistractors(p.doc, c, [hit.term], 1)[0] : undefined;
    let statement = c.sentence.text;
    if (swap) {
      const replacement = hit.index === 0 ? upperFirst(swap.display) : swap.display;
      statement = statement.slice(0, hit.index) + replacement + statement.slice(hit.index + hit.surface.length);
    }
    const stem = TEMPLATES[p.doc.lang].trueFalse(statement, p.doc.names);
    return { draft: { type: 'true_false', stem, correct: swap === undefined }, answers: [hit.term.key] };
  },

  numeric(p, c) {
    const number = c.numbers[0];
    if (!number) return undefined;
    const blanked = c.sentence.text.slice(0, number.index) + BLANK + c.sentence.text.slice(number.index + number.surface.length);
    const stem = TEMPLATES[p.doc.lang].numeric(blanked);
    return { draft: { type: 'numeric', stem, answer: number.value, tolerance: 0 }, answers: [`#${number.surface}`] };
  },
};

const OPTION_IDS = ['a', 'b', 'c', 'd', 'e', 'f'];

/**
 * The right option as the sentence writes it, so it reads as the blank's
 * filler; at the start of a sentence the capital is the sentence's, not the
 * term's, so the document's usual form is used there.
 */
const answerText = (hit: TermHit): string => (hit.index === 0 ? hit.term.display : hit.surface);

/** A capitalised right option among lower-case distractors would give itself away. */
const caseLike = (model: string, text: string): string => (/^\p{Lu}/u.test(model) && /^\p{Ll}/u.test(text) ? upperFirst(text) : text);

/** The sentence's strongest term not yet used as an answer, so no two questions ask for the same term. */
const freshHit = (p: Picker, c: Candidate): TermHit | undefined => c.hits.find((h) => !p.usedAnswers.has(h.term.key));

const overlaps = (a: TermHit, b: TermHit): boolean =>
  a.index < b.index + b.surface.length && b.index < a.index + a.surface.length;

/**
 * Other document terms as wrong options: never one that appears in the
 * sentence (it could fit the blank too) or resembles an answer ("trace" for
 * "traces"). Terms of the same shape (word count, capitalisation) come
 * first, so the right answer does not stand out by its form.
 */
function pickDistractors(doc: Doc, c: Candidate, answers: readonly Term[], n: number): Term[] {
  const sentenceLower = c.sentence.text.toLowerCase();
  const shape = answers[0] as Term;
  const pool = doc.terms.filter(
    (t) =>
      !answers.some((a) => similar(t.key, a.key)) &&
      !sentenceLower.includes(t.key) &&
      !c.hits.some((h) => similar(t.key, h.term.key)),
  );
  const sameShape = (t: Term): number => (t.words === shape.words ? 0 : 2) + (t.capitalised === shape.capitalised ? 0 : 1);
  pool.sort(
    (a, b) =>
      sameShape(a) - sameShape(b) ||
      Math.abs(Math.log(a.score / shape.score)) - Math.abs(Math.log(b.score / shape.score)) ||
      (a.key < b.key ? -1 : 1),
  );
  // Draw from the closest few so the same term is not every question's distractor.
  const window = shuffle(pool.slice(0, n * 2 + 2), doc.random);
  const picked: Term[] = [];
  for (const t of [...window, ...pool]) {
    if (picked.length === n) break;
    if (!picked.some((q) => similar(q.key, t.key))) picked.push(t);
  }
  return picked;
}

/** Same word in another form: one contains the other, or they share all but a short ending ("Raum", "Räume"). */
function similar(x: string, y: string): boolean {
  const a = foldMarks(x);
  const b = foldMarks(y);
  if (a === b || a.includes(b) || b.includes(a)) return true;
  let common = 0;
  while (common < a.length && common < b.length && a[common] === b[common]) common++;
  return common >= Math.max(4, Math.min(a.length, b.length) - 3);
}

const foldMarks = (s: string): string => s.normalize('NFD').replace(/\p{M}/gu, '');

function blankOut(text: string, hits: readonly TermHit[]): string {
  let out = text;
  for (const h of [...hits].sort((a, b) => b.index - a.index)) out = out.slice(0, h.index) + BLANK + out.slice(h.index + h.surface.length);
  return out;
}

const upperFirst = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);

interface Templates {
  cloze(blanked: string): string;
  choice(blanked: string): string;
  multi(blanked: string): string;
  numeric(blanked: string): string;
  trueFalse(statement: string, names: ReadonlySet<string>): string;
  feedback(page: number, sentence: string): string;
}

const TEMPLATES: { readonly en: Templates; readonly de: Templates } = {
  en: {
    cloze: (s) => `Fill in the blank: ${s}`,
    choice: (s) => `Which term completes the statement? ${s}`,
    multi: (s) => `Which two terms fill the blanks? ${s}`,
    numeric: (s) => `Which number fills the blank? ${s}`,
    trueFalse: (s, names) => `According to the text, ${lowerFirstWord(s, names)}`,
    feedback: (page, s) => `The text says (page ${page}): “${s}”`,
  },
  de: {
    cloze: (s) => `Ergänzen Sie die Lücke: ${s}`,
    choice: (s) => `Welcher Begriff ergänzt die Aussage? ${s}`,
    multi: (s) => `Welche zwei Begriffe füllen die Lücken? ${s}`,
    numeric: (s) => `Welche Zahl gehört in die Lücke? ${s}`,
    // German capitalises nouns, so the sentence is quoted after a colon as it stands.
    trueFalse: (s) => `Laut dem Text gilt: ${s}`,
    feedback: (page, s) => `Im Text (Seite ${page}): „${s}“`,
  },
};

/**
 * "The loop…" reads "According to the text, the loop…", while a name keeps
 * its capital: a word with inner capitals (JavaScript, VM) or one the
 * document also capitalises in mid-sentence (titles do that to "The", so
 * stopwords are always lowered).
 */
function lowerFirstWord(sentence: string, names: ReadonlySet<string>): string {
  const first = /^\p{L}+/u.exec(sentence)?.[0];
  if (!first || first === 'I' || /\p{Lu}/u.test(first.slice(1))) return sentence;
  if (names.has(first) && !STOPWORDS.has(first.toLowerCase())) return sentence;
  return first.toLowerCase() + sentence.slice(first.length);
}
