/**
 * JavaScript regex → XML Schema regex, for QTI's `patternMatch`.
 *
 * QTI's patternMatch uses XML Schema regular expressions: implicitly anchored
 * to the whole string, no flags, no lazy quantifiers, no non-capturing
 * groups, no word boundaries, and `\d \w \s .` mean different things than in
 * JavaScript. examday's patterns run in Unicode mode (`u`, plus `i` when
 * case-insensitive) anchored as `^(?:pattern)$` against the trimmed answer.
 * The translation keeps that meaning exactly: character escapes and classes
 * are computed as explicit code-point sets (case-closed when `i` applies,
 * using V8's own case-insensitive matching as the judge), then written out.
 */
import { compileAnswerPattern } from '../questions/answer-regex.ts';

export type XsdRegexResult = { ok: true; pattern: string } | { ok: false; reason: string };

class Untranslatable extends Error {}

/**
 * Translate an accepted-answer pattern to an XML Schema regular expression
 * that accepts the same answers, including examday's "surrounding whitespace
 * does not count". What remains different: the LMS does not NFC-normalise
 * the answer; a pattern that itself demands leading or trailing whitespace
 * (which examday, trimming first, never matches) can match there; and
 * `\p{…}` follows the LMS's Unicode version rather than V8's.
 */
export function toXsdRegex(source: string, caseInsensitive = false): XsdRegexResult {
  try {
    compileAnswerPattern(source, caseInsensitive);
  } catch (err) {
    return { ok: false, reason: `not a valid regular expression (${err instanceof Error ? err.message : String(err)})` };
  }
  try {
    const inner = new RegexTranslator(Array.from(source), caseInsensitive).translate();
    const space = emitSet({ negated: false, ranges: JS_SPACE, props: [] }, false);
    return { ok: true, pattern: `${space}*(${inner})${space}*` };
  } catch (err) {
    if (err instanceof Untranslatable) return { ok: false, reason: err.message };
    throw err;
  }
}

type Range = readonly [number, number];

const MAX_CODE_POINT = 0x10ffff;
const XML_CHARS: Range[] = [
  [0x9, 0xa],
  [0xd, 0xd],
  [0x20, 0xd7ff],
  [0xe000, 0xfffd],
  [0x10000, MAX_CODE_POINT],
];
const DIGITS: Range[] = [[0x30, 0x39]];
const WORD: Range[] = [
  [0x30, 0x39],
  [0x41, 0x5a],
  [0x5f, 0x5f],
  [0x61, 0x7a],
];
/** Under `iu`, `\w` also matches ſ and the Kelvin sign, which fold to s and k. */
const WORD_IU: Range[] = [...WORD, [0x17f, 0x17f], [0x212a, 0x212a]];
/** JavaScript's `\s`, which is also what `String.prototype.trim` removes. */
const JS_SPACE: Range[] = [
  [0x9, 0xd],
  [0x20, 0x20],
  [0xa0, 0xa0],
  [0x1680, 0x1680],
  [0x2000, 0x200a],
  [0x2028, 0x2029],
  [0x202f, 0x202f],
  [0x205f, 0x205f],
  [0x3000, 0x3000],
  [0xfeff, 0xfeff],
];
const LINE_TERMINATORS: Range[] = [
  [0xa, 0xa],
  [0xd, 0xd],
  [0x2028, 0x2029],
];

function normalizeRanges(ranges: readonly Range[]): Range[] {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const out: [number, number][] = [];
  for (const [lo, hi] of sorted) {
    const last = out[out.length - 1];
    if (last && lo <= last[1] + 1) last[1] = Math.max(last[1], hi);
    else out.push([lo, hi]);
  }
  return out;
}

function complement(ranges: readonly Range[]): Range[] {
  const out: Range[] = [];
  let next = 0;
  for (const [lo, hi] of normalizeRanges(ranges)) {
    if (lo > next) out.push([next, lo - 1]);
    next = hi + 1;
  }
  if (next <= MAX_CODE_POINT) out.push([next, MAX_CODE_POINT]);
  return out;
}

function intersect(a: readonly Range[], b: readonly Range[]): Range[] {
  return complement([...complement(a), ...complement(b)]);
}

function contains(ranges: readonly Range[], cp: number): boolean {
  let lo = 0;
  let hi = ranges.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const r = ranges[mid]!;
    if (cp < r[0]) hi = mid - 1;
    else if (cp > r[1]) lo = mid + 1;
    else return true;
  }
  return false;
}

/** Code point → every code point V8 matches it with under `iu` (only for characters that have others). */
let caseTable: Map<number, readonly number[]> | undefined;

/** Blocks without any case mapping (CJK, Hangul, private use): skipped to keep the one-time scan short. */
const CASELESS: Range[] = [
  [0x3400, 0x9fff],
  [0xac00, 0xd7ff],
  [0xd800, 0xf8ff],
];

function caseEquivalents(): Map<number, readonly number[]> {
  if (caseTable) return caseTable;
  // Built once per process on the first case-insensitive pattern: a scan of
  // ~100k code points, tens of milliseconds, in exchange for exactness.
  // Candidates: characters that meet under toUpperCase-then-toLowerCase
  // (ſ, s and S all reach "s"; the Kelvin sign reaches "k"). Cased letters
  // all sit below U+20000. V8 then decides which candidates really match.
  const groups = new Map<string, number[]>();
  const single = (s: string): boolean => s.length === String.fromCodePoint(s.codePointAt(0)!).length;
  for (const [from, to] of intersect([[0, 0x1ffff]], complement(CASELESS))) {
    for (let cp = from; cp <= to; cp++) {
      const ch = String.fromCodePoint(cp);
      const upper = ch.toUpperCase();
      if (upper === ch && ch.toLowerCase() === ch) continue;
      // Multi-character mappings ("ß" → "SS") are not what a regex class can match.
      const lower = (single(upper) ? upper : ch).toLowerCase();
      const key = single(lower) ? lower : ch;
      let group = groups.get(key);
      if (!group) groups.set(key, (group = []));
      group.push(cp);
    }
  }
  const table = new Map<number, readonly number[]>();
  for (const [key, group] of groups) {
    const keyCp = key.codePointAt(0)!;
    let rest = group.includes(keyCp) ? group : [keyCp, ...group];
    while (rest.length > 0) {
      const re = new RegExp(`^\\u{${rest[0]!.toString(16)}}$`, 'iu');
      const same = rest.filter((cp) => re.test(String.fromCodePoint(cp)));
      rest = rest.filter((cp) => !same.includes(cp));
      if (same.length > 1) for (const cp of same) table.set(cp, same);
    }
  }
  caseTable = table;
  return table;
}

function caseClose(ranges: readonly Range[]): Range[] {
  const normalized = normalizeRanges(ranges);
  const extra: Range[] = [];
  for (const [cp, equivalents] of caseEquivalents()) {
    if (contains(normalized, cp)) for (const e of equivalents) extra.push([e, e]);
  }
  return normalizeRanges([...normalized, ...extra]);
}

interface ClassSpec {
  negated: boolean;
  ranges: Range[];
  /** XML Schema property escapes such as `\p{L}`, kept symbolic. */
  props: string[];
}

const SINGLE_ESCAPED = new Set(['\\', '|', '.', '-', '^', '?', '*', '+', '{', '}', '(', ')', '[', ']']);
const CLASS_ESCAPED = new Set(['\\', '[', ']', '-', '^']);

function escapeChar(cp: number, inClass: boolean): string {
  if (cp === 0x9) return '\\t';
  if (cp === 0xa) return '\\n';
  if (cp === 0xd) return '\\r';
  const ch = String.fromCodePoint(cp);
  return (inClass ? CLASS_ESCAPED : SINGLE_ESCAPED).has(ch) ? `\\${ch}` : ch;
}

const needsClassEscape = (cp: number): boolean => escapeChar(cp, true) !== String.fromCodePoint(cp);

/**
 * One range inside a class. Escaped characters never serve as range
 * endpoints: libxml2 misreads `[\[-a]` as two characters, and other engines
 * may too, so they are peeled off and written singly.
 */
function classRange([from, to]: Range): string {
  let lo = from;
  let hi = to;
  let head = '';
  let tail = '';
  while (lo <= hi && needsClassEscape(lo)) head += escapeChar(lo++, true);
  while (hi >= lo && needsClassEscape(hi)) tail = escapeChar(hi--, true) + tail;
  if (lo > hi) return head + tail;
  const middle = lo === hi ? escapeChar(lo, true) : `${escapeChar(lo, true)}${hi === lo + 1 ? '' : '-'}${escapeChar(hi, true)}`;
  return head + middle + tail;
}

function emitSet(spec: ClassSpec, caseInsensitive: boolean): string {
  let ranges = normalizeRanges(spec.ranges);
  if (caseInsensitive) ranges = caseClose(ranges);
  ranges = intersect(ranges, XML_CHARS);
  const body = (rs: readonly Range[]): string => rs.map(classRange).join('') + spec.props.join('');
  if (spec.negated) {
    // `[^]` matches any character: spell that out, XML Schema has no empty negation.
    if (ranges.length === 0 && spec.props.length === 0) return `[${body(XML_CHARS)}]`;
    return `[^${body(ranges)}]`;
  }
  if (ranges.length === 0 && spec.props.length === 0) {
    throw new Untranslatable('it contains a character class that matches no character an XML document can hold');
  }
  const only = ranges[0];
  if (spec.props.length === 0 && ranges.length === 1 && only && only[0] === only[1]) return escapeChar(only[0], false);
  if (ranges.length === 0 && spec.props.length === 1) return spec.props[0]!;
  return `[${body(ranges)}]`;
}

/** JavaScript general-category names (short and long) → the XML Schema category. */
const CATEGORIES: Readonly<Record<string, string>> = (() => {
  const pairs: [string, string[]][] = [
    ['L', ['Letter']],
    ['Lu', ['Uppercase_Letter']],
    ['Ll', ['Lowercase_Letter']],
    ['Lt', ['Titlecase_Letter']],
    ['Lm', ['Modifier_Letter']],
    ['Lo', ['Other_Letter']],
    ['M', ['Mark', 'Combining_Mark']],
    ['Mn', ['Nonspacing_Mark']],
    ['Mc', ['Spacing_Mark']],
    ['Me', ['Enclosing_Mark']],
    ['N', ['Number']],
    ['Nd', ['Decimal_Number', 'digit']],
    ['Nl', ['Letter_Number']],
    ['No', ['Other_Number']],
    ['P', ['Punctuation', 'punct']],
    ['Pc', ['Connector_Punctuation']],
    ['Pd', ['Dash_Punctuation']],
    ['Ps', ['Open_Punctuation']],
    ['Pe', ['Close_Punctuation']],
    ['Pi', ['Initial_Punctuation']],
    ['Pf', ['Final_Punctuation']],
    ['Po', ['Other_Punctuation']],
    ['S', ['Symbol']],
    ['Sm', ['Math_Symbol']],
    ['Sc', ['Currency_Symbol']],
    ['Sk', ['Modifier_Symbol']],
    ['So', ['Other_Symbol']],
    ['Z', ['Separator']],
    ['Zs', ['Space_Separator']],
    ['Zl', ['Line_Separator']],
    ['Zp', ['Paragraph_Separator']],
    ['C', ['Other']],
    ['Cc', ['Control', 'cntrl']],
    ['Cf', ['Format']],
    ['Co', ['Private_Use']],
    ['Cn', ['Unassigned']],
  ];
  const map: Record<string, string> = {};
  for (const [short, longs] of pairs) for (const name of [short, ...longs]) map[name] = short;
  return map;
})();
/** Categories JavaScript widens under `i` (an uppercase class then matches lowercase too). */
const CASED_CATEGORIES = new Set(['Lu', 'Ll', 'Lt']);

type ClassAtom = { kind: 'char'; cp: number } | { kind: 'set'; spec: ClassSpec };

/**
 * A recursive-descent walk over a pattern V8 has already accepted in Unicode
 * mode, so syntax errors are not its concern; it only rewrites or refuses.
 */
class RegexTranslator {
  private pos = 0;

  constructor(
    private readonly chars: readonly string[],
    private readonly ci: boolean,
  ) {}

  translate(): string {
    const out = this.disjunction(0);
    if (this.pos < this.chars.length) throw new Untranslatable(`unexpected "${this.peek()}"`);
    return out;
  }

  private peek(offset = 0): string | undefined {
    return this.chars[this.pos + offset];
  }

  private next(): string {
    const c = this.chars[this.pos++];
    if (c === undefined) throw new Untranslatable('unexpected end of pattern');
    return c;
  }

  private disjunction(depth: number): string {
    const alternatives = [this.alternative(depth)];
    while (this.peek() === '|') {
      this.pos++;
      alternatives.push(this.alternative(depth));
    }
    return alternatives.join('|');
  }

  private alternative(depth: number): string {
    let out = '';
    let started = false;
    for (let c = this.peek(); c !== undefined && c !== '|' && c !== ')'; c = this.peek()) {
      // The whole pattern is anchored anyway; ^ and $ are only harmless where they restate that.
      if (c === '^') {
        if (depth > 0 || started) throw new Untranslatable('"^" is only supported at the start of the pattern');
        this.pos++;
        continue;
      }
      if (c === '$') {
        this.pos++;
        while (this.peek() === '$') this.pos++;
        if (depth > 0 || (this.peek() !== undefined && this.peek() !== '|')) {
          throw new Untranslatable('"$" is only supported at the end of the pattern');
        }
        continue;
      }
      started = true;
      out += this.atom(depth) + this.quantifier();
    }
    return out;
  }

  private quantifier(): string {
    const c = this.peek();
    let q: string;
    if (c === '*' || c === '+' || c === '?') {
      this.pos++;
      q = c;
    } else if (c === '{') {
      const close = this.chars.indexOf('}', this.pos);
      q = this.chars.slice(this.pos, close + 1).join('');
      this.pos = close + 1;
    } else return '';
    // Lazy and greedy accept the same whole strings; XML Schema only has greedy.
    if (this.peek() === '?') this.pos++;
    return q;
  }

  private atom(depth: number): string {
    const c = this.next();
    switch (c) {
      case '(': {
        if (this.peek() === '?') {
          const kind = this.peek(1);
          if (kind === ':') this.pos += 2;
          else if (kind === '<' && this.peek(2) !== '=' && this.peek(2) !== '!') {
            this.pos = this.chars.indexOf('>', this.pos) + 1;
          } else throw new Untranslatable('lookaround and inline-flag groups have no XML Schema equivalent');
        }
        const inner = this.disjunction(depth + 1);
        if (this.next() !== ')') throw new Untranslatable('unbalanced parentheses');
        return `(${inner})`;
      }
      case '[':
        return emitSet(this.charClass(), this.ci);
      case '.':
        return emitSet({ negated: true, ranges: LINE_TERMINATORS, props: [] }, this.ci);
      case '\\':
        return this.escape();
      default:
        return this.character(c.codePointAt(0)!);
    }
  }

  /** One character outside a class (with its case variants under `i`). */
  private character(cp: number): string {
    if (!contains(XML_CHARS, cp)) {
      throw new Untranslatable(
        `it requires the character U+${cp.toString(16).toUpperCase().padStart(4, '0')}, which an XML document cannot hold`,
      );
    }
    return emitSet({ negated: false, ranges: [[cp, cp]], props: [] }, this.ci);
  }

  private escape(): string {
    const e = this.peek();
    if (e === 'b' || e === 'B') throw new Untranslatable(`word boundaries ("\\${e}") have no XML Schema equivalent`);
    if (e !== undefined && (/^[1-9]$/.test(e) || e === 'k')) {
      throw new Untranslatable('backreferences have no XML Schema equivalent');
    }
    const atom = this.classEscape();
    return atom.kind === 'char' ? this.character(atom.cp) : emitSet(atom.spec, this.ci);
  }

  /** After a backslash: a shorthand class, a property, or one character. */
  private classEscape(): ClassAtom {
    const e = this.next();
    const set = (ranges: Range[], negated: boolean): ClassAtom => ({ kind: 'set', spec: { negated, ranges, props: [] } });
    switch (e) {
      case 'd':
      case 'D':
        return set(DIGITS, e === 'D');
      case 'w':
      case 'W':
        return set(this.ci ? WORD_IU : WORD, e === 'W');
      case 's':
      case 'S':
        return set(JS_SPACE, e === 'S');
      case 'p':
      case 'P':
        return this.property(e === 'P');
      case 'b':
        // Only reachable inside a class, where \b is a backspace.
        return { kind: 'char', cp: 0x8 };
      default:
        return { kind: 'char', cp: this.characterEscape(e) };
    }
  }

  private characterEscape(e: string): number {
    switch (e) {
      case '0':
        return 0;
      case 't':
        return 0x9;
      case 'n':
        return 0xa;
      case 'v':
        return 0xb;
      case 'f':
        return 0xc;
      case 'r':
        return 0xd;
      case 'c':
        return this.next().charCodeAt(0) % 32;
      case 'x':
        return parseInt(this.next() + this.next(), 16);
      case 'u': {
        if (this.peek() === '{') {
          const close = this.chars.indexOf('}', this.pos);
          const cp = parseInt(this.chars.slice(this.pos + 1, close).join(''), 16);
          this.pos = close + 1;
          return cp;
        }
        const unit = parseInt(this.chars.slice(this.pos, this.pos + 4).join(''), 16);
        this.pos += 4;
        // In Unicode mode a \uD83D\uDE00 pair is one astral character.
        if (unit >= 0xd800 && unit <= 0xdbff && this.peek() === '\\' && this.peek(1) === 'u') {
          const low = parseInt(this.chars.slice(this.pos + 2, this.pos + 6).join(''), 16);
          if (low >= 0xdc00 && low <= 0xdfff) {
            this.pos += 6;
            return 0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00);
          }
        }
        return unit;
      }
      default:
        return e.codePointAt(0)!;
    }
  }

  private property(negated: boolean): ClassAtom {
    const close = this.chars.indexOf('}', this.pos);
    const name = this.chars.slice(this.pos + 1, close).join('');
    this.pos = close + 1;
    const value = name.replace(/^(?:gc|General_Category)=/, '');
    if (value === 'ASCII') return { kind: 'set', spec: { negated, ranges: [[0, 0x7f]], props: [] } };
    if (value === 'Any') return { kind: 'set', spec: { negated, ranges: [[0, MAX_CODE_POINT]], props: [] } };
    const category = CATEGORIES[value];
    if (category === undefined) {
      throw new Untranslatable(`the Unicode property \\p{${name}} has no XML Schema equivalent (only general categories do)`);
    }
    if (this.ci && CASED_CATEGORIES.has(category)) {
      throw new Untranslatable(`\\p{${name}} ignores case in a case-insensitive pattern, which XML Schema cannot say`);
    }
    return { kind: 'set', spec: { negated: false, ranges: [], props: [`\\${negated ? 'P' : 'p'}{${category}}`] } };
  }

  /** After `[`: the class as one code-point set plus symbolic properties. */
  private charClass(): ClassSpec {
    let negated = false;
    if (this.peek() === '^') {
      negated = true;
      this.pos++;
    }
    const ranges: Range[] = [];
    const props: string[] = [];
    while (this.peek() !== ']') {
      const from = this.classAtom();
      if (from.kind === 'char' && this.peek() === '-' && this.peek(1) !== ']' && this.peek(1) !== undefined) {
        this.pos++;
        const to = this.classAtom();
        if (to.kind !== 'char') throw new Untranslatable('a range may only join two characters');
        ranges.push([from.cp, to.cp]);
      } else if (from.kind === 'char') ranges.push([from.cp, from.cp]);
      else if (from.spec.props.length > 0) {
        props.push(...from.spec.props);
      } else {
        ranges.push(...(from.spec.negated ? complement(from.spec.ranges) : from.spec.ranges));
      }
    }
    this.pos++;
    return { negated, ranges, props };
  }

  private classAtom(): ClassAtom {
    const c = this.next();
    if (c !== '\\') return { kind: 'char', cp: c.codePointAt(0)! };
    return this.classEscape();
  }
}
