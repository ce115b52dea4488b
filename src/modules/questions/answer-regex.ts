/**
 * Regular-expression accepted answers for short_text questions.
 *
 * A pattern is written by an author but run against text typed by candidates,
 * tens of thousands of times in a grading job. JavaScript's backtracking engine
 * can take exponential (or high-polynomial) time on a bad pattern, and a single
 * synchronous `RegExp.test` cannot be interrupted, so safety is decided before
 * the pattern is stored:
 *
 * - patterns compile in Unicode mode (`u`, plus `i` when asked) and are anchored
 *   to the whole answer as `^(?:pattern)$`;
 * - backreferences and lookarounds are refused outright;
 * - a repeated part (`*`, `+`, `{n,m}` with m > 1) may not contain a variable
 *   quantifier (`(a+)+`, `(.*)*`, `(a?){9}`) nor an alternation whose branches
 *   could match at the same place (`(a|ab)*`, `(\d|x)+`; `(cat|cow)+` is fine);
 * - the remaining ambiguity (`.*x.*y`, `a?b?c?`, `(a|a)(a|a)`) is priced on an
 *   answer of {@link MAX_REGEX_SUBJECT_LENGTH} characters: every way an earlier
 *   part can end is another attempt at the later parts, so the choices of
 *   overlapping quantifiers multiply, and the total must stay under a budget.
 *   Two open-ended quantifiers (≈10^6 steps, a few ms) pass; three (≈10^9,
 *   measured ≈0.6 s on a 1000-character answer) do not, unless a literal they
 *   cannot match separates them (`\d+:\d+:\d+` is linear).
 *
 * The check is deliberately conservative: it rejects some patterns that are in
 * fact fast (`(\d+,)*\d+`); the error says how to rewrite them.
 */

/** Longest pattern an author may store. */
export const MAX_PATTERN_LENGTH = 500;
/** Longest answer a pattern is ever run against; the cost budget assumes it. */
export const MAX_REGEX_SUBJECT_LENGTH = 1000;
/** Estimated backtracking steps allowed per pattern (≈ 10–20 ms worst case measured). */
const MAX_ESTIMATED_STEPS = 1e7;
/**
 * V8 backtracks into an ambiguous alternation ≈ 8× slower than into a greedy
 * loop such as `.*` (measured: `(a|a)` × 21 on 20 a's takes 115 ms, `.*a.*b`
 * on 1000 a's 2 ms), so such alternations are priced accordingly.
 */
const ALTERNATION_STEP_COST = 8;

export type PatternCheck = { ok: true } | { ok: false; error: string };

/**
 * Decide whether `source` may be stored as an accepted-answer pattern.
 * The error text is written for the author: it names the offending fragment
 * and says how to fix it.
 */
export function checkAnswerPattern(source: string, caseInsensitive = false): PatternCheck {
  if (source.length === 0) return { ok: false, error: 'must not be empty' };
  if (source.length > MAX_PATTERN_LENGTH) {
    return { ok: false, error: `pattern is ${source.length} characters long; the limit is ${MAX_PATTERN_LENGTH}` };
  }
  try {
    // Compiling the bare pattern first matters: "a)|(b" is invalid alone but
    // would compile once wrapped, silently escaping the whole-answer anchor.
    new RegExp(source, flags(caseInsensitive));
  } catch (err) {
    const reason = err instanceof Error ? err.message.replace(/^.*: /, '') : String(err);
    return { ok: false, error: `not a valid regular expression (Unicode mode): ${reason}` };
  }
  try {
    const parser = new Parser(source);
    const facts = new Analyser(parser, flags(caseInsensitive)).node(parser.parse());
    const steps = facts.work + facts.branch;
    if (steps > MAX_ESTIMATED_STEPS) {
      return {
        ok: false,
        error:
          `too ambiguous: on a ${MAX_REGEX_SUBJECT_LENGTH}-character answer this pattern could need about ` +
          `${formatSteps(steps)} backtracking steps (limit ${formatSteps(MAX_ESTIMATED_STEPS)}); ` +
          'use at most two open-ended quantifiers (*, +, {n,}) and fewer optional parts, or split it into several accepted answers',
      };
    }
    return { ok: true };
  } catch (err) {
    if (err instanceof UnsafePattern) return { ok: false, error: err.message };
    throw err;
  }
}

/**
 * The whole-answer matcher for a pattern that passed {@link checkAnswerPattern}.
 * Throws on an invalid pattern; callers only pass stored, validated patterns.
 */
export function compileAnswerPattern(source: string, caseInsensitive = false): RegExp {
  new RegExp(source, flags(caseInsensitive));
  return new RegExp(`^(?:${source})$`, flags(caseInsensitive));
}

function flags(caseInsensitive: boolean): string {
  return caseInsensitive ? 'iu' : 'u';
}

function formatSteps(n: number): string {
  if (!Number.isFinite(n) || n >= 1e100) return 'more than 10^100';
  return `10^${Math.round(Math.log10(n))}`;
}

class UnsafePattern extends Error {}

// ─── Parsing ────────────────────────────────────────────────────────────────
// The parser only ever sees patterns V8 already accepted in Unicode mode, so it
// can be lenient about syntax and focus on structure.

interface Span {
  start: number;
  end: number;
}
type Node =
  /** One literal character (escapes resolved). */
  | (Span & { kind: 'char'; char: string })
  /** Character class, `.`, `\d`, `\p{…}`: some unknown character. */
  | (Span & { kind: 'set' })
  /** Zero-width: `^`, `$`, `\b`, `\B`. */
  | (Span & { kind: 'assertion' })
  | (Span & { kind: 'group'; alternatives: Node[][] })
  | (Span & { kind: 'repeat'; min: number; max: number; operand: Node });

class Parser {
  private readonly chars: string[];
  private pos = 0;

  constructor(source: string) {
    // Code points, because in Unicode mode a quantifier applies to a whole astral character.
    this.chars = Array.from(source);
  }

  parse(): Node {
    const alternatives = this.alternatives();
    if (this.pos < this.chars.length) throw new UnsafePattern(`unexpected ")" at position ${this.pos + 1}`);
    return { kind: 'group', alternatives, start: 0, end: this.chars.length };
  }

  source(node: Span): string {
    return this.chars.slice(node.start, node.end).join('');
  }

  snippet(node: Span): string {
    const text = this.source(node);
    return text.length > 60 ? `${text.slice(0, 57)}...` : text;
  }

  private peek(offset = 0): string | undefined {
    return this.chars[this.pos + offset];
  }

  private alternatives(): Node[][] {
    const result = [this.sequence()];
    while (this.peek() === '|') {
      this.pos++;
      result.push(this.sequence());
    }
    return result;
  }

  private sequence(): Node[] {
    const items: Node[] = [];
    for (let c = this.peek(); c !== undefined && c !== '|' && c !== ')'; c = this.peek()) {
      const before = this.pos;
      items.push(this.quantified(this.atom()));
      // V8 validated the syntax, but a parser slip must fail the check, never loop.
      if (this.pos <= before) throw new UnsafePattern(`unsupported syntax at position ${before + 1}`);
    }
    return items;
  }

  private quantified(operand: Node): Node {
    const c = this.peek();
    let min: number;
    let max: number;
    if (c === '*') [min, max] = [0, Infinity];
    else if (c === '+') [min, max] = [1, Infinity];
    else if (c === '?') [min, max] = [0, 1];
    else if (c === '{') {
      const close = this.chars.indexOf('}', this.pos);
      const [lo = '', hi] = this.chars.slice(this.pos + 1, close).join('').split(',');
      min = Number(lo);
      max = hi === undefined ? min : hi === '' ? Infinity : Number(hi);
      this.pos = close;
    } else return operand;
    this.pos++;
    if (this.peek() === '?') this.pos++; // lazy: same worst case as greedy
    return { kind: 'repeat', min, max, operand, start: operand.start, end: this.pos };
  }

  private atom(): Node {
    const start = this.pos;
    const c = this.chars[this.pos++];
    switch (c) {
      case '(':
        return this.group(start);
      case '[':
        this.skipClass();
        return { kind: 'set', start, end: this.pos };
      case '.':
        return { kind: 'set', start, end: this.pos };
      case '^':
      case '$':
        return { kind: 'assertion', start, end: this.pos };
      case '\\':
        return this.escape(start);
      default:
        return this.char(c, start);
    }
  }

  private group(start: number): Node {
    if (this.peek() === '?') {
      const next = this.peek(1);
      const lookbehind = next === '<' && (this.peek(2) === '=' || this.peek(2) === '!');
      if (next === '=' || next === '!' || lookbehind) {
        const syntax = lookbehind ? `(?<${this.peek(2)}` : `(?${next}`;
        throw new UnsafePattern(
          `lookaround assertions such as "${syntax}" are not allowed; list the accepted variants as separate answers instead`,
        );
      }
      if (next === ':') this.pos += 2;
      else if (next === '<') this.pos = this.chars.indexOf('>', this.pos) + 1;
      else throw new UnsafePattern(`unsupported group syntax "(?${next ?? ''}"; use (...) or (?:...)`);
    }
    const alternatives = this.alternatives();
    this.pos++; // ')'
    return { kind: 'group', alternatives, start, end: this.pos };
  }

  private skipClass(): void {
    // Unicode mode has no nested classes: the first unescaped "]" closes it.
    while (this.pos < this.chars.length && this.chars[this.pos] !== ']') {
      this.pos += this.chars[this.pos] === '\\' ? 2 : 1;
    }
    this.pos++;
  }

  private escape(start: number): Node {
    const e = this.chars[this.pos++] ?? '';
    const literal = (ch: string): Node => this.char(ch, start);
    if (/^[1-9]$/.test(e) || e === 'k') {
      throw new UnsafePattern(
        `backreferences such as "\\${e === 'k' ? 'k<name>' : e}" are not allowed (they can make matching exponentially slow); list the variants as separate accepted answers instead`,
      );
    }
    switch (e) {
      case 'b':
      case 'B':
        return { kind: 'assertion', start, end: this.pos };
      case 'd':
      case 'D':
      case 'w':
      case 'W':
      case 's':
      case 'S':
        return { kind: 'set', start, end: this.pos };
      case 'p':
      case 'P':
        this.pos = this.chars.indexOf('}', this.pos) + 1;
        return { kind: 'set', start, end: this.pos };
      case 'u': {
        if (this.peek() === '{') {
          const close = this.chars.indexOf('}', this.pos);
          const hex = this.chars.slice(this.pos + 1, close).join('');
          this.pos = close + 1;
          return literal(String.fromCodePoint(parseInt(hex, 16)));
        }
        const hex = this.chars.slice(this.pos, this.pos + 4).join('');
        this.pos += 4;
        // A lone surrogate half is compared as itself: conservative for pairs.
        return literal(String.fromCharCode(parseInt(hex, 16)));
      }
      case 'x': {
        const hex = this.chars.slice(this.pos, this.pos + 2).join('');
        this.pos += 2;
        return literal(String.fromCharCode(parseInt(hex, 16)));
      }
      case 'c': {
        const letter = this.chars[this.pos++] ?? '@';
        return literal(String.fromCharCode(letter.charCodeAt(0) % 32));
      }
      case '0':
        return literal('\0');
      case 't':
        return literal('\t');
      case 'n':
        return literal('\n');
      case 'r':
        return literal('\r');
      case 'v':
        return literal('\v');
      case 'f':
        return literal('\f');
      default:
        return literal(e);
    }
  }

  private char(ch: string | undefined, start: number): Node {
    // `ch` is only undefined past the end, which a compiled pattern never reaches.
    return { kind: 'char', char: ch ?? '', start, end: this.pos };
  }
}

// ─── Analysis ───────────────────────────────────────────────────────────────

interface Facts {
  /** Estimated steps to try this part once, including its backtracking. */
  work: number;
  /** Ways this part can end that the rest of the pattern must each try. */
  branch: number;
  /** Characters a match can start with; `unknown` when not a small known set. */
  first: Set<string> | 'unknown';
  /** Literal text every match starts with (`cat` for `cat\d`), possibly empty. */
  prefix: string[];
  /** Can match the empty string. */
  nullable: boolean;
  /** A quantifier with min ≠ max somewhere inside, for the nested-quantifier message. */
  variable: Node | undefined;
  /** An alternation whose branches may start alike, somewhere inside. */
  ambiguous: Node | undefined;
}

const emptyFacts = (): Facts => ({
  work: 1,
  branch: 1,
  first: new Set(),
  prefix: [],
  nullable: true,
  variable: undefined,
  ambiguous: undefined,
});

/** Walks a parsed pattern, throwing {@link UnsafePattern} on the first structural hazard. */
class Analyser {
  constructor(
    private readonly parser: Parser,
    private readonly flags: string,
  ) {}

  /**
   * Whether a one-character atom can match `ch`, asked of V8 itself so that
   * classes, `\p{…}` and Unicode case folding under `i` (ſ ~ s, K ~ k) are exact.
   */
  private atomMatches(atom: Node, ch: string): boolean {
    return new RegExp(`^(?:${this.parser.source(atom)})$`, this.flags).test(ch);
  }

  private sameChar(a: string, b: string): boolean {
    if (a === b) return true;
    if (!this.flags.includes('i')) return false;
    return new RegExp(`^\\u{${(a.codePointAt(0) ?? 0).toString(16)}}$`, this.flags).test(b);
  }

  node(node: Node): Facts {
    switch (node.kind) {
      case 'char':
        return {
          work: 1,
          branch: 1,
          first: new Set([node.char]),
          prefix: [node.char],
          nullable: false,
          variable: undefined,
          ambiguous: undefined,
        };
      case 'set':
        return {
          work: 1,
          branch: 1,
          first: 'unknown',
          prefix: [],
          nullable: false,
          variable: undefined,
          ambiguous: undefined,
        };
      case 'assertion':
        return emptyFacts();
      case 'group':
        return this.group(node);
      case 'repeat':
        return this.repeat(node);
    }
  }

  private sequence(items: Node[]): Facts {
    // Every way the earlier items can end is a separate attempt at the later
    // ones: work adds up per attempt, and the attempts multiply.
    const facts = emptyFacts();
    facts.work = 0;
    let open = true; // everything so far was nullable, so first characters keep accumulating
    let literal = true; // everything so far was plain characters (or zero-width)
    for (const [i, item] of items.entries()) {
      const next = items[i + 1];
      const f = item.kind === 'repeat' && this.isGuarded(item, next) ? this.repeat(item, true) : this.node(item);
      facts.work += facts.branch * f.work;
      facts.branch *= f.branch;
      facts.variable ??= f.variable;
      facts.ambiguous ??= f.ambiguous;
      if (open) facts.first = union(facts.first, f.first);
      if (literal) {
        facts.prefix.push(...f.prefix);
        literal = item.kind === 'char' || item.kind === 'assertion';
      }
      if (!f.nullable) {
        open = false;
        facts.nullable = false;
      }
    }
    return facts;
  }

  private group(node: Extract<Node, { kind: 'group' }>): Facts {
    const branches = node.alternatives.map((items) => this.sequence(items));
    if (branches.length === 1 && branches[0]) return branches[0];
    const deterministic = branches.every((b) => !b.nullable) && this.pairwiseDisjoint(branches);
    // Disjoint first characters mean at most one branch gets past its first
    // character at any position, so only that branch's choices are explored.
    const works = branches.map((b) => b.work);
    const ends = branches.map((b) => b.branch);
    return {
      work: deterministic ? Math.max(...works) + branches.length - 1 : ALTERNATION_STEP_COST * sum(works),
      branch: deterministic ? Math.max(...ends) : sum(ends),
      first: branches.reduce<Facts['first']>((acc, b) => union(acc, b.first), new Set()),
      prefix: [],
      nullable: branches.some((b) => b.nullable),
      variable: branches.find((b) => b.variable)?.variable,
      ambiguous: deterministic ? branches.find((b) => b.ambiguous)?.ambiguous : node,
    };
  }

  /**
   * `\d+:` — a one-character repeat followed by a literal it cannot match. Of
   * all the lengths it can take, only the one ending its run can be followed
   * by that literal, so the rest of the pattern is tried once, not per length.
   */
  private isGuarded(node: Extract<Node, { kind: 'repeat' }>, next: Node | undefined): boolean {
    const operand = node.operand;
    if (next?.kind !== 'char' || (operand.kind !== 'char' && operand.kind !== 'set')) return false;
    return !this.atomMatches(operand, next.char);
  }

  /**
   * Whether no two branches can match at the same position: they differ
   * somewhere in their leading literal text (`cat|cow`), or start with
   * characters from disjoint known sets (`a|b\d`).
   */
  private pairwiseDisjoint(branches: Facts[]): boolean {
    return branches.every((a, i) => branches.slice(i + 1).every((b) => this.disjoint(a, b)));
  }

  private disjoint(a: Facts, b: Facts): boolean {
    const common = Math.min(a.prefix.length, b.prefix.length);
    for (let k = 0; k < common; k++) {
      if (!this.sameChar(a.prefix[k] ?? '', b.prefix[k] ?? '')) return true;
    }
    if (a.first === 'unknown' || b.first === 'unknown') return false;
    for (const x of a.first) {
      for (const y of b.first) if (this.sameChar(x, y)) return false;
    }
    return true;
  }

  private repeat(node: Extract<Node, { kind: 'repeat' }>, guarded = false): Facts {
    const f = this.node(node.operand);
    const show = (n: Node): string => this.parser.snippet(n);
    if (node.max > 1 && f.variable) {
      throw new UnsafePattern(
        `nested quantifier in "${show(node)}": the repeated part already contains the quantifier "${show(f.variable)}", ` +
          'which can backtrack catastrophically; repeat only fixed-length parts (e.g. "(ab)+") or drop one of the quantifiers (e.g. "a+" instead of "(a+)+")',
      );
    }
    if (node.max > 1 && f.ambiguous) {
      throw new UnsafePattern(
        `ambiguous alternation "${show(f.ambiguous)}" inside the repeated "${show(node)}": inside a repetition the ` +
          'alternatives must differ in their leading literal text (like "cat|cow"), otherwise matching can backtrack ' +
          'catastrophically; avoid alternatives that are prefixes of each other or start with a class, ' +
          'and use a character class instead where you can (e.g. "[ab]+" rather than "(a|b|ab)+")',
      );
    }
    if (node.max === 0) return emptyFacts();
    // Past the checks above a repeated operand is deterministic (branch 1).
    const lengths = Math.min(node.max - node.min + 1, MAX_REGEX_SUBJECT_LENGTH);
    const iterations = Math.min(node.max, MAX_REGEX_SUBJECT_LENGTH);
    const repeated = node.max > 1;
    return {
      prefix: node.min > 0 ? f.prefix : [],
      work: repeated ? iterations * f.work : f.work + 1,
      branch: guarded ? 1 : repeated ? lengths : (node.min === 0 ? 1 : 0) + f.branch,
      first: f.first,
      nullable: node.min === 0 || f.nullable,
      variable: node.min !== node.max ? node : f.variable,
      ambiguous: f.ambiguous,
    };
  }
}

function union(a: Facts['first'], b: Facts['first']): Facts['first'] {
  if (a === 'unknown' || b === 'unknown') return 'unknown';
  return new Set([...a, ...b]);
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
