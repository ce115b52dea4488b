/**
 * Text that PostgreSQL cannot store: the character U+0000 (refused in `text`
 * and in `jsonb`) and unpaired UTF-16 surrogates (`jsonb` refuses their
 * `\uD800`-style escapes; `text` would silently turn them into U+FFFD). In a
 * request they can only arrive as escapes — `\u0000` in JSON, `%00` in a URL
 * — so they are refused at the edge with the field named. Left to the
 * database they would fail the statement, and an autosave's statement is a
 * group commit shared with other candidates' answers.
 */

/** A JSON escape that may decode to an unstorable character (cheap pre-check on the raw body). */
const SUSPECT_JSON_ESCAPE = /\\u(?:0000|[dD][89a-fA-F])/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Why `s` cannot be stored, as a sentence that says what to fix; undefined when it can. */
export function unstorableReason(s: string): string | undefined {
  if (s.includes('\u0000')) return 'contains the character U+0000 (NUL), which cannot be stored; remove it';
  if (LONE_SURROGATE.test(s)) return 'contains an unpaired UTF-16 surrogate (\\uD800–\\uDFFF), which is not text; send valid Unicode';
  return undefined;
}

export interface UnstorableField {
  /** Dotted path as in validation errors (`answers.0.value`), `(root)` for the body itself. */
  path: string;
  message: string;
}

/** A path in an error is cut here: a body may nest thousands of levels deep. */
const MAX_PATH = 200;

interface Visit {
  value: unknown;
  key: string;
  parent: Visit | undefined;
}

function pathOf(v: Visit): string {
  const keys: string[] = [];
  for (let at: Visit | undefined = v; at?.parent; at = at.parent) keys.push(at.key);
  const path = keys.reverse().join('.') || '(root)';
  return path.length > MAX_PATH ? `${path.slice(0, MAX_PATH)}…` : path;
}

/**
 * The first string in a parsed JSON body — a value or an object key — that
 * cannot be stored. `raw` is the body as received: bodies without a suspect
 * escape (nearly all) are not walked.
 */
export function findUnstorableJson(raw: string, parsed: unknown): UnstorableField | undefined {
  if (!SUSPECT_JSON_ESCAPE.test(raw)) return undefined;
  // Iterative, each visit linked to its parent rather than carrying a copy of
  // its path: a body may nest deeper than the call stack allows.
  const stack: Visit[] = [{ value: parsed, key: '', parent: undefined }];
  while (stack.length > 0) {
    const at = stack.pop()!;
    const { value } = at;
    if (typeof value === 'string') {
      const why = unstorableReason(value);
      if (why) return { path: pathOf(at), message: why };
    } else if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push({ value: value[i], key: String(i), parent: at });
    } else if (value !== null && typeof value === 'object') {
      for (const [key, v] of Object.entries(value)) {
        const why = unstorableReason(key);
        if (why) return { path: pathOf(at), message: `a key ${why}` };
        stack.push({ value: v, key, parent: at });
      }
    }
  }
  return undefined;
}
