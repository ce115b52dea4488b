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
import { exactForm, normalizeAnswer } from '../questions/grading.ts';
import type { Difficulty, Option, Question } from '../questions/model.ts';
import { comment, el, serializeXml, type XmlChild, type XmlElement } from './xml.ts';
import { toXsdRegex } from './xsd-regex.ts';

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
