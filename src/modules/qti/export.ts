/**
 * QTI 2.1 export: a published assessment version as an IMS content package
 * (IMS CP 1.1) that an LMS can import — one `assessmentItem` per question, one
 * `assessmentTest`, and `imsmanifest.xml` listing them. Every file validates
 * against the official XSDs (`export.test.ts` checks that).
 *
 * Mapping decisions an importer (or a reviewer) needs to know:
 * - Identifiers are NCNames: items `Q-<question id>`, choices `O-<option id>`
 *   (option ids may start with a digit), true/false choices `true`/`false` as
 *   in the specification's own example.
 * - Scores are in points: `MAXSCORE` is the question's points and `SCORE`
 *   runs from 0 to it. The standard `match_correct` template always scores 1,
 *   so it is only used for 1-point items; otherwise the item carries the same
 *   rules written out with `SCORE = MAXSCORE` (the shape of the
 *   specification's modalFeedback example). `map_response` scores in points
 *   already (the mapped values are points) and is used as is.
 * - Feedback is a `modalFeedback` shown after every attempt: response
 *   processing sets the `FEEDBACK` outcome to `GENERAL` whatever the answer,
 *   so an item with feedback always has written-out rules.
 * - Partial credit (multiple_response) is a mapping: +points/#correct for each
 *   correct choice, −points/#correct for each wrong one, bounded to
 *   [0, points] — exactly examday's "right minus wrong, never below 0".
 * - short_text "exact" / "normalized" are mappings with `caseSensitive` true /
 *   false. QTI cannot trim, collapse spaces or apply Unicode normalisation
 *   before comparing, so an LMS is stricter than examday there; keys are
 *   written in the form examday compares (trimmed, NFC, and for "normalized"
 *   NFKC with single spaces).
 * - short_text "regex" becomes `patternMatch` on an XML Schema regular
 *   expression translated from the JavaScript one (see {@link toXsdRegex}),
 *   wrapped to ignore surrounding whitespace as examday does. A pattern that
 *   has no XML Schema equivalent is left out, named in an XML comment and a
 *   scorer-only rubric, and reported in {@link QtiBuild.warnings}; an item
 *   with no expressible pattern has no automatic scoring at all.
 * - numeric is a float `textEntryInteraction` scored with `equal`
 *   (`toleranceMode="absolute"`, inclusive bounds), or exact when the
 *   tolerance is 0. (`equalRounded` rounds to figures, which is not a
 *   tolerance; examday's 1e-12 relative slack for float noise is not carried.)
 * - A question's source citation (`source: {materialId, page, quote}`) is a
 *   `rubricBlock` for authors and scorers, so it travels with the item but is
 *   never shown to candidates; tags and difficulty are LOM metadata in the
 *   manifest.
 * - Sections: fixed questions are `assessmentItemRef`s; a random pool is an
 *   invisible sub-section with `<selection select="count">` and shuffled
 *   ordering. `shuffleItems` shuffles the main section, `shuffleOptions` the
 *   choices (true/false choices stay fixed), `timeLimitS` is the test's
 *   `maxTime`.
 */
import { Readable } from 'node:stream';
import yazl from 'yazl';
import type { Section, VersionContent } from '../assessments/content.ts';
import { compileAnswerPattern } from '../questions/answer-regex.ts';
import { exactForm, normalizeAnswer } from '../questions/grading.ts';
import type { Difficulty, Option, Question } from '../questions/model.ts';
import { comment, el, serializeXml, type XmlChild, type XmlElement } from './xml.ts';

export interface QtiExportOptions {
  /** Identifies the test and the manifest (a version id, say); made into an NCName if it is not one. */
  identifier: string;
  title: string;
  /** Timestamp of the files inside the zip; pass the publish time for byte-identical re-exports. */
  modifiedAt?: Date;
}

export interface QtiFile {
  /** Path inside the package, `/`-separated. */
  path: string;
  xml: string;
}

export type QtiWarningCode = 'regex_not_expressible' | 'question_missing' | 'question_not_in_test';

/** Something about the assessment that the package cannot carry faithfully; meant to be shown to the author. */
export interface QtiWarning {
  code: QtiWarningCode;
  questionId: string;
  message: string;
}

export interface QtiBuild {
  /** `imsmanifest.xml` first, then `assessmentTest.xml`, then the items. */
  files: QtiFile[];
  warnings: QtiWarning[];
}

/** Where a question came from; not part of the question model yet, so read leniently. */
export interface SourceCitation {
  materialId: string;
  page?: number;
  quote?: string;
}

/** A question as frozen into a version, possibly carrying its source citation. */
export type ExportableQuestion = Question & { source?: unknown };

const QTI_NS = 'http://www.imsglobal.org/xsd/imsqti_v2p1';
const QTI_XSD = 'http://www.imsglobal.org/xsd/qti/qtiv2p1/imsqti_v2p1.xsd';
const CP_NS = 'http://www.imsglobal.org/xsd/imscp_v1p1';
const MD_NS = 'http://www.imsglobal.org/xsd/imsmd_v1p2';
const QTIMD_NS = 'http://www.imsglobal.org/xsd/imsqti_metadata_v2p1';
const XSI_NS = 'http://www.w3.org/2001/XMLSchema-instance';
const SCHEMA_LOCATIONS = [
  `${CP_NS} http://www.imsglobal.org/xsd/imscp_v1p1.xsd`,
  `${MD_NS} http://www.imsglobal.org/xsd/imsmd_v1p2p4.xsd`,
  `${QTIMD_NS} http://www.imsglobal.org/xsd/qti/qtiv2p1/imsqti_metadata_v2p1.xsd`,
].join(' ');
const RP_TEMPLATES = 'http://www.imsglobal.org/question/qti_v2p1/rptemplates/';
const TOOL_NAME = 'examday';
const MANIFEST_PATH = 'imsmanifest.xml';
const TEST_PATH = 'assessmentTest.xml';
const TEST_RESOURCE = 'RES-TEST';
const FEEDBACK_ID = 'GENERAL';
const TITLE_LENGTH = 80;
const ITEM_PREFIX = 'Q-';

// ─── Public API ─────────────────────────────────────────────────────────────

/** Every file of the package, rendered; pure and deterministic. */
export function buildQtiFiles(content: VersionContent<ExportableQuestion>, opts: QtiExportOptions): QtiBuild {
  const plan = planPackage(content, opts);
  const warnings = [...plan.warnings];
  const files: QtiFile[] = [
    { path: MANIFEST_PATH, xml: renderManifest(plan) },
    { path: TEST_PATH, xml: renderTest(plan) },
    ...plan.items.map((item) => ({ path: item.path, xml: renderItem(item, warnings) })),
  ];
  return { files, warnings };
}

/**
 * The package as a zip stream. Items are rendered one at a time as the zip
 * writer reaches them, so only the file being compressed is in memory.
 * Callers who want to show the author the warnings use {@link buildQtiFiles}
 * and {@link zipQtiFiles} instead.
 */
export function exportQtiPackage(content: VersionContent<ExportableQuestion>, opts: QtiExportOptions): Readable {
  const plan = planPackage(content, opts);
  const ignored: QtiWarning[] = [];
  return zipEntries(
    [
      { path: MANIFEST_PATH, render: () => renderManifest(plan) },
      { path: TEST_PATH, render: () => renderTest(plan) },
      ...plan.items.map((item) => ({ path: item.path, render: () => renderItem(item, ignored) })),
    ],
    opts.modifiedAt,
  );
}

/** Files already rendered by {@link buildQtiFiles}, as a zip stream. */
export function zipQtiFiles(files: readonly QtiFile[], modifiedAt?: Date): Readable {
  return zipEntries(
    files.map((f) => ({ path: f.path, render: () => f.xml })),
    modifiedAt,
  );
}

function zipEntries(entries: readonly { path: string; render: () => string }[], modifiedAt = new Date()): Readable {
  const zip = new yazl.ZipFile();
  const output = zip.outputStream;
  const out = output instanceof Readable ? output : new Readable().wrap(output);
  // yazl reports failures on the ZipFile, not on its stream: forward them so
  // the consumer sees an error instead of a stream that never ends.
  zip.on('error', (err: Error) => out.destroy(err));
  for (const entry of entries) {
    zip.addReadStreamLazy(entry.path, { mtime: modifiedAt, compress: true }, (cb) => {
      try {
        cb(null, Readable.from([Buffer.from(entry.render(), 'utf8')]));
      } catch (err) {
        out.destroy(err instanceof Error ? err : new Error(String(err)));
      }
    });
  }
  zip.end();
  return out;
}

// ─── Planning: identifiers, paths, sections ─────────────────────────────────

interface ItemPlan {
  questionId: string;
  question: ExportableQuestion;
  identifier: string;
  resourceId: string;
  path: string;
  shuffleOptions: boolean;
}

type TestEntry = { kind: 'item'; item: ItemPlan } | { kind: 'pool'; identifier: string; title: string; select: number; items: ItemPlan[] };

interface PackagePlan {
  identifier: string;
  manifestId: string;
  title: string;
  description: string;
  timeLimitS: number;
  shuffleItems: boolean;
  items: ItemPlan[];
  entries: TestEntry[];
  warnings: QtiWarning[];
}

// The ASCII subset of NCName: enough for uuids and option ids, and safe as a file name.
const NCNAME = /^[A-Za-z_][A-Za-z0-9._-]*$/;
const NON_NCNAME_CHAR = /[^A-Za-z0-9._-]/g;

/** Hands out identifiers that are NCNames and unique within one document. */
class Identifiers {
  private readonly taken = new Set<string>();

  claim(prefix: string, raw: string): string {
    const base = prefix + raw.replace(NON_NCNAME_CHAR, '_');
    let id = base;
    for (let n = 2; this.taken.has(id.toLowerCase()); n++) id = `${base}_${n}`;
    // Case-insensitive uniqueness, because item ids also name files and some file systems fold case.
    this.taken.add(id.toLowerCase());
    return id;
  }
}

function asNcName(raw: string, prefix: string): string {
  return NCNAME.test(raw) ? raw : prefix + raw.replace(NON_NCNAME_CHAR, '_');
}

function planPackage(content: VersionContent<ExportableQuestion>, opts: QtiExportOptions): PackagePlan {
  const warnings: QtiWarning[] = [];
  const ids = new Identifiers();
  const byId = new Map<string, ItemPlan>();
  const items: ItemPlan[] = [];
  for (const [questionId, question] of Object.entries(content.questions)) {
    const identifier = ids.claim(ITEM_PREFIX, questionId);
    const plan: ItemPlan = {
      questionId,
      question,
      identifier,
      resourceId: `RES-${identifier}`,
      // The question id itself for uuids; the sanitised, de-duplicated form otherwise.
      path: `items/${identifier.slice(ITEM_PREFIX.length)}.xml`,
      shuffleOptions: content.shuffleOptions,
    };
    items.push(plan);
    byId.set(questionId, plan);
  }

  const used = new Set<string>();
  const take = (questionId: string): ItemPlan | undefined => {
    const item = byId.get(questionId);
    if (!item) {
      warnings.push({
        code: 'question_missing',
        questionId,
        message: `a section refers to question ${questionId}, which the version does not contain; it is left out of the test`,
      });
      return undefined;
    }
    // An item may be referenced once per test; publishing never repeats one, this is defence only.
    if (used.has(questionId)) return undefined;
    used.add(questionId);
    return item;
  };

  const entries: TestEntry[] = [];
  content.sections.forEach((section: Section, index) => {
    if (section.kind === 'fixed') {
      const item = take(section.questionId);
      if (item) entries.push({ kind: 'item', item });
      return;
    }
    const pool = section.poolIds.flatMap((id) => take(id) ?? []);
    if (pool.length === 0) return;
    entries.push({
      kind: 'pool',
      identifier: `S-${index + 1}`,
      title: `${Math.min(section.count, pool.length)} random question(s) tagged "${section.tag}"`,
      select: Math.min(section.count, pool.length),
      items: pool,
    });
  });

  for (const item of items) {
    if (!used.has(item.questionId)) {
      warnings.push({
        code: 'question_not_in_test',
        questionId: item.questionId,
        message: `question ${item.questionId} is in the version but in no section; it is exported as an item only`,
      });
    }
  }

  return {
    identifier: asNcName(opts.identifier, 'T-'),
    manifestId: `MANIFEST-${opts.identifier.replace(NON_NCNAME_CHAR, '_')}`,
    title: oneLine(opts.title),
    description: content.description,
    timeLimitS: content.timeLimitS,
    shuffleItems: content.shuffleItems,
    items,
    entries,
    warnings,
  };
}

// ─── Shared pieces ──────────────────────────────────────────────────────────

/** xs:double text; shortest round-trip form, which the XSD lexical space accepts. */
function num(value: number): string {
  if (!Number.isFinite(value)) throw new Error(`cannot write ${value} as a QTI number`);
  return String(value);
}

/** Plain text as paragraphs: blank lines separate `<p>`s, single line breaks become `<br/>`. */
function paragraphs(textValue: string): XmlElement[] {
  const blocks = textValue
    .replace(/\r\n?/g, '\n')
    .split(/\n[ \t]*\n/)
    .map((b) => b.replace(/^\n+|\n+$/g, ''))
    .filter((b) => b.trim().length > 0);
  return (blocks.length > 0 ? blocks : [textValue]).map((b) => el('p', {}, ...inlineLines(b)));
}

function inlineLines(textValue: string): XmlChild[] {
  return textValue
    .replace(/\r\n?/g, '\n')
    .split('\n')
    .flatMap((line, i) => (i === 0 ? [line] : [el('br'), line]));
}

/** Titles are xs:normalizedString: one line. */
const oneLine = (value: string): string => value.replace(/\s+/g, ' ').trim();

function titleOf(stem: string): string {
  const flat = oneLine(stem);
  return flat.length <= TITLE_LENGTH ? flat : `${flat.slice(0, TITLE_LENGTH - 1).trimEnd()}…`;
}

function readSource(raw: unknown): SourceCitation | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const { materialId, page, quote } = raw as Record<string, unknown>;
  if (typeof materialId !== 'string' || materialId.length === 0) return undefined;
  return {
    materialId,
    ...(typeof page === 'number' && Number.isFinite(page) ? { page } : {}),
    ...(typeof quote === 'string' && quote.trim().length > 0 ? { quote } : {}),
  };
}

const variable = (identifier: string): XmlElement => el('variable', { identifier });
const baseValue = (baseType: string, value: string): XmlElement => el('baseValue', { baseType }, value);
const setOutcome = (identifier: string, expression: XmlElement): XmlElement =>
  el('setOutcomeValue', { identifier }, expression);
const floatOutcome = (identifier: string, value: number): XmlElement =>
  el(
    'outcomeDeclaration',
    { identifier, cardinality: 'single', baseType: 'float' },
    el('defaultValue', {}, el('value', {}, num(value))),
  );

/** SCORE = MAXSCORE when `condition` holds, else 0 (a NULL condition, i.e. no answer, counts as false). */
function scoreIf(condition: XmlElement): XmlElement {
  return el(
    'responseCondition',
    {},
    el('responseIf', {}, condition, setOutcome('SCORE', variable('MAXSCORE'))),
    el('responseElse', {}, setOutcome('SCORE', baseValue('float', '0'))),
  );
}

// ─── Items ──────────────────────────────────────────────────────────────────

type Scoring =
  /** The standard template's logic; written out when the template would score wrongly or feedback must be set. */
  | { kind: 'match_correct' }
  | { kind: 'map_response' }
  | { kind: 'rules'; rules: XmlElement[] }
  /** No automatic scoring: SCORE stays 0 and a human grades. */
  | { kind: 'none' };

interface ItemParts {
  response: XmlElement;
  interaction: XmlElement;
  scoring: Scoring;
  /** Comments and scorer notes about what could not be expressed. */
  notes: string[];
}

function renderItem(item: ItemPlan, warnings: QtiWarning[]): string {
  const q = item.question;
  const parts = itemParts(item, warnings);
  const feedback = q.feedback !== undefined && q.feedback.trim().length > 0 ? q.feedback : undefined;
  const source = readSource(q.source);

  const root = el(
    'assessmentItem',
    {
      xmlns: QTI_NS,
      'xmlns:xsi': XSI_NS,
      'xsi:schemaLocation': `${QTI_NS} ${QTI_XSD}`,
      identifier: item.identifier,
      title: titleOf(q.stem),
      adaptive: false,
      timeDependent: false,
      toolName: TOOL_NAME,
    },
    parts.response,
    floatOutcome('SCORE', 0),
    floatOutcome('MAXSCORE', q.points),
    feedback !== undefined && el('outcomeDeclaration', { identifier: 'FEEDBACK', cardinality: 'single', baseType: 'identifier' }),
    el(
      'itemBody',
      {},
      paragraphs(q.stem),
      parts.interaction,
      source && sourceRubric(source),
      parts.notes.length > 0 &&
        el('rubricBlock', { view: 'scorer' }, parts.notes.map((n) => el('p', {}, n))),
    ),
    parts.notes.map((n) => comment(` examday: ${n} `)),
    responseProcessing(parts.scoring, q.points, feedback !== undefined),
    feedback !== undefined &&
      el('modalFeedback', { outcomeIdentifier: 'FEEDBACK', showHide: 'show', identifier: FEEDBACK_ID }, paragraphs(feedback)),
  );
  return serializeXml(root);
}

function sourceRubric(source: SourceCitation): XmlElement {
  const where = `Source: material ${source.materialId}${source.page === undefined ? '' : `, page ${source.page}`}`;
  return el(
    'rubricBlock',
    { view: 'author scorer tutor', class: 'examday-source' },
    el('p', {}, where),
    source.quote !== undefined && el('blockquote', {}, paragraphs(source.quote)),
  );
}

function responseProcessing(scoring: Scoring, points: number, feedback: boolean): XmlElement | undefined {
  const feedbackRule = feedback ? [setOutcome('FEEDBACK', baseValue('identifier', FEEDBACK_ID))] : [];
  switch (scoring.kind) {
    case 'none':
      return feedback ? el('responseProcessing', {}, feedbackRule) : undefined;
    case 'match_correct':
      // The template sets SCORE to 1, which is only right for 1-point items.
      if (points === 1 && !feedback) return el('responseProcessing', { template: `${RP_TEMPLATES}match_correct` });
      return el(
        'responseProcessing',
        {},
        scoreIf(el('match', {}, variable('RESPONSE'), el('correct', { identifier: 'RESPONSE' }))),
        feedbackRule,
      );
    case 'map_response':
      if (!feedback) return el('responseProcessing', { template: `${RP_TEMPLATES}map_response` });
      return el(
        'responseProcessing',
        {},
        el(
          'responseCondition',
          {},
          el('responseIf', {}, el('isNull', {}, variable('RESPONSE')), setOutcome('SCORE', baseValue('float', '0'))),
          el('responseElse', {}, setOutcome('SCORE', el('mapResponse', { identifier: 'RESPONSE' }))),
        ),
        feedbackRule,
      );
    case 'rules':
      return el('responseProcessing', {}, scoring.rules, feedbackRule);
  }
}

function itemParts(item: ItemPlan, warnings: QtiWarning[]): ItemParts {
  const q = item.question;
  switch (q.type) {
    case 'single_choice':
      return {
        response: el(
          'responseDeclaration',
          { identifier: 'RESPONSE', cardinality: 'single', baseType: 'identifier' },
          el('correctResponse', {}, el('value', {}, optionId(q.correct))),
        ),
        interaction: choiceInteraction(q.options, 1, item.shuffleOptions),
        scoring: { kind: 'match_correct' },
        notes: [],
      };
    case 'multiple_response': {
      const correct = new Set(q.correct);
      const share = q.points / correct.size;
      return {
        response: el(
          'responseDeclaration',
          { identifier: 'RESPONSE', cardinality: 'multiple', baseType: 'identifier' },
          el('correctResponse', {}, q.correct.map((id) => el('value', {}, optionId(id)))),
          q.scoring === 'partial' &&
            el(
              'mapping',
              { lowerBound: 0, upperBound: num(q.points), defaultValue: 0 },
              q.options.map((o) =>
                el('mapEntry', { mapKey: optionId(o.id), mappedValue: num(correct.has(o.id) ? share : -share) }),
              ),
            ),
        ),
        interaction: choiceInteraction(q.options, 0, item.shuffleOptions),
        scoring: { kind: q.scoring === 'partial' ? 'map_response' : 'match_correct' },
        notes: [],
      };
    }
    case 'true_false':
      return {
        response: el(
          'responseDeclaration',
          { identifier: 'RESPONSE', cardinality: 'single', baseType: 'identifier' },
          el('correctResponse', {}, el('value', {}, String(q.correct))),
        ),
        interaction: el(
          'choiceInteraction',
          { responseIdentifier: 'RESPONSE', shuffle: false, maxChoices: 1 },
          el('simpleChoice', { identifier: 'true', fixed: true }, 'True'),
          el('simpleChoice', { identifier: 'false', fixed: true }, 'False'),
        ),
        scoring: { kind: 'match_correct' },
        notes: [],
      };
    case 'short_text':
      return q.match === 'regex' ? regexParts(item, q.accepted, q.caseInsensitive ?? false, warnings) : mappedTextParts(q);
    case 'numeric': {
      const compare =
        q.tolerance > 0
          ? { toleranceMode: 'absolute', tolerance: `${num(q.tolerance)} ${num(q.tolerance)}` }
          : { toleranceMode: 'exact' };
      return {
        response: el(
          'responseDeclaration',
          { identifier: 'RESPONSE', cardinality: 'single', baseType: 'float' },
          el('correctResponse', {}, el('value', {}, num(q.answer))),
        ),
        interaction: textEntry(),
        scoring: {
          kind: 'rules',
          rules: [scoreIf(el('equal', compare, variable('RESPONSE'), el('correct', { identifier: 'RESPONSE' })))],
        },
        notes: [],
      };
    }
  }
}

const optionId = (id: string): string => `O-${id}`;

function choiceInteraction(options: readonly Option[], maxChoices: number, shuffle: boolean): XmlElement {
  return el(
    'choiceInteraction',
    { responseIdentifier: 'RESPONSE', shuffle, maxChoices },
    options.map((o) => el('simpleChoice', { identifier: optionId(o.id), fixed: false }, inlineLines(o.text))),
  );
}

function textEntry(): XmlElement {
  // textEntryInteraction is inline: it must sit in a block. No expectedLength,
  // because a box sized to the answer tells the candidate its length.
  return el('p', {}, el('textEntryInteraction', { responseIdentifier: 'RESPONSE' }));
}

function mappedTextParts(q: Extract<Question, { type: 'short_text' }>): ItemParts {
  const caseSensitive = q.match === 'exact';
  // Keys in the form examday compares; duplicates (after that) are dropped because map keys must be unique.
  const keyOf = caseSensitive ? exactForm : (s: string) => s.normalize('NFKC').trim().replace(/\s+/gu, ' ');
  const identity = caseSensitive ? exactForm : normalizeAnswer;
  const seen = new Set<string>();
  const keys: string[] = [];
  for (const accepted of q.accepted) {
    const id = identity(accepted);
    if (seen.has(id)) continue;
    seen.add(id);
    keys.push(keyOf(accepted));
  }
  return {
    response: el(
      'responseDeclaration',
      { identifier: 'RESPONSE', cardinality: 'single', baseType: 'string' },
      keys[0] !== undefined && el('correctResponse', {}, el('value', {}, keys[0])),
      el(
        'mapping',
        { defaultValue: 0 },
        keys.map((key) => el('mapEntry', { mapKey: key, mappedValue: num(q.points), caseSensitive })),
      ),
    ),
    interaction: textEntry(),
    scoring: { kind: 'map_response' },
    notes: [],
  };
}

function regexParts(item: ItemPlan, accepted: readonly string[], caseInsensitive: boolean, warnings: QtiWarning[]): ItemParts {
  const patterns: string[] = [];
  const notes: string[] = [];
  for (const source of accepted) {
    const converted = toXsdRegex(source, caseInsensitive);
    if (converted.ok) {
      patterns.push(converted.pattern);
      continue;
    }
    const flags = caseInsensitive ? ' (case-insensitive)' : '';
    notes.push(`accepted pattern /${source}/${flags} is not exported: ${converted.reason}`);
    warnings.push({
      code: 'regex_not_expressible',
      questionId: item.questionId,
      message:
        `accepted pattern /${source}/${flags} cannot be written as a QTI 2.1 (XML Schema) regular expression: ` +
        `${converted.reason}; ` +
        (accepted.length > 1 ? 'the item accepts only the other patterns' : 'the item has no automatic scoring'),
    });
  }
  if (patterns.length === 0) notes.push('this item must be scored by hand');
  const matches = patterns.map((pattern) => el('patternMatch', { pattern }, variable('RESPONSE')));
  const condition = matches.length <= 1 ? matches[0] : el('or', {}, matches);
  return {
    response: el('responseDeclaration', { identifier: 'RESPONSE', cardinality: 'single', baseType: 'string' }),
    interaction: textEntry(),
    scoring: condition === undefined ? { kind: 'none' } : { kind: 'rules', rules: [scoreIf(condition)] },
    notes,
  };
}

// ─── Test ───────────────────────────────────────────────────────────────────

function renderTest(plan: PackagePlan): string {
  const ref = (item: ItemPlan): XmlElement =>
    el('assessmentItemRef', { identifier: item.identifier, href: item.path, fixed: false });
  const children = plan.entries.map((entry) =>
    entry.kind === 'item'
      ? ref(entry.item)
      : el(
          'assessmentSection',
          // Invisible and not kept together: the drawn questions blend into the main section, as in examday.
          { identifier: entry.identifier, title: entry.title, visible: false, keepTogether: false },
          el('selection', { select: entry.select }),
          el('ordering', { shuffle: true }),
          entry.items.map(ref),
        ),
  );
  const sum = (identifier: string): XmlElement =>
    setOutcome(identifier, el('sum', {}, el('testVariables', { variableIdentifier: identifier })));
  const root = el(
    'assessmentTest',
    {
      xmlns: QTI_NS,
      'xmlns:xsi': XSI_NS,
      'xsi:schemaLocation': `${QTI_NS} ${QTI_XSD}`,
      identifier: plan.identifier,
      title: plan.title,
      toolName: TOOL_NAME,
    },
    floatOutcome('SCORE', 0),
    floatOutcome('MAXSCORE', 0),
    plan.timeLimitS > 0 && el('timeLimits', { maxTime: plan.timeLimitS }),
    el(
      'testPart',
      { identifier: 'P-1', navigationMode: 'nonlinear', submissionMode: 'simultaneous' },
      el(
        'assessmentSection',
        { identifier: 'S-MAIN', title: plan.title, visible: true },
        plan.shuffleItems && el('ordering', { shuffle: true }),
        plan.description.trim().length > 0 && el('rubricBlock', { view: 'candidate' }, paragraphs(plan.description)),
        children,
      ),
    ),
    // Sums over the items each candidate was given, so random pools add up per candidate.
    el('outcomeProcessing', {}, sum('SCORE'), sum('MAXSCORE')),
  );
  return serializeXml(root);
}

// ─── Manifest ───────────────────────────────────────────────────────────────

const langstring = (value: string): XmlElement => el('imsmd:langstring', { 'xml:lang': 'x-none' }, value);

/** LOM 1.0 difficulty vocabulary. */
const LOM_DIFFICULTY: Readonly<Record<Difficulty, string>> = { easy: 'easy', medium: 'medium', hard: 'difficult' };

function itemMetadata(item: ItemPlan): XmlElement {
  const q = item.question;
  const interactionType = q.type === 'short_text' || q.type === 'numeric' ? 'textEntryInteraction' : 'choiceInteraction';
  const hasFeedback = q.feedback !== undefined && q.feedback.trim().length > 0;
  return el(
    'metadata',
    {},
    el(
      'imsmd:lom',
      {},
      el(
        'imsmd:general',
        {},
        el('imsmd:title', {}, langstring(titleOf(q.stem))),
        q.tags.map((tag) => el('imsmd:keyword', {}, langstring(tag))),
      ),
      q.difficulty !== undefined &&
        el(
          'imsmd:educational',
          {},
          el(
            'imsmd:difficulty',
            {},
            el('imsmd:source', {}, langstring('LOMv1.0')),
            el('imsmd:value', {}, langstring(LOM_DIFFICULTY[q.difficulty])),
          ),
        ),
    ),
    el(
      'imsqti:qtiMetadata',
      {},
      el('imsqti:timeDependent', {}, 'false'),
      el('imsqti:interactionType', {}, interactionType),
      el('imsqti:feedbackType', {}, hasFeedback ? 'nonadaptive' : 'none'),
      el('imsqti:solutionAvailable', {}, q.type === 'short_text' && q.match === 'regex' ? 'false' : 'true'),
      el('imsqti:toolName', {}, TOOL_NAME),
    ),
  );
}

function renderManifest(plan: PackagePlan): string {
  const inTest = plan.entries.flatMap((e) => (e.kind === 'item' ? [e.item] : e.items));
  const root = el(
    'manifest',
    {
      xmlns: CP_NS,
      'xmlns:imsmd': MD_NS,
      'xmlns:imsqti': QTIMD_NS,
      'xmlns:xsi': XSI_NS,
      'xsi:schemaLocation': SCHEMA_LOCATIONS,
      identifier: plan.manifestId,
    },
    el(
      'metadata',
      {},
      el('schema', {}, 'QTIv2.1 Package'),
      el('schemaversion', {}, '1.0.0'),
      el('imsmd:lom', {}, el('imsmd:general', {}, el('imsmd:title', {}, langstring(plan.title)))),
    ),
    el('organizations'),
    el(
      'resources',
      {},
      el(
        'resource',
        { identifier: TEST_RESOURCE, type: 'imsqti_test_xmlv2p1', href: TEST_PATH },
        el('file', { href: TEST_PATH }),
        inTest.map((item) => el('dependency', { identifierref: item.resourceId })),
      ),
      plan.items.map((item) =>
        el(
          'resource',
          { identifier: item.resourceId, type: 'imsqti_item_xmlv2p1', href: item.path },
          itemMetadata(item),
          el('file', { href: item.path }),
        ),
      ),
    ),
  );
  return serializeXml(root);
}

// ─── JavaScript regex → XML Schema regex ────────────────────────────────────
//
// QTI's patternMatch uses XML Schema regular expressions: implicitly anchored
// to the whole string, no flags, no lazy quantifiers, no non-capturing
// groups, no word boundaries, and `\d \w \s .` mean different things than in
// JavaScript. examday's patterns run in Unicode mode (`u`, plus `i` when
// case-insensitive) anchored as `^(?:pattern)$` against the trimmed answer.
// The translation keeps that meaning exactly: character escapes and classes
// are computed as explicit code-point sets (case-closed when `i` applies,
// using V8's own case-insensitive matching as the judge), then written out.

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
