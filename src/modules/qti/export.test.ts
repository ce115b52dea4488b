/**
 * QTI export: the package is checked the way an LMS would see it — unzipped
 * from the real stream, every file parsed by libxml2 (`xmllint`) and, when
 * `../shared/fixtures/qti/xsd` (or `$EXAMDAY_FIXTURES/qti/xsd`) is present,
 * validated against the official IMS schemas. Structure and meaning (correct
 * responses, scores, mappings) are read back with XPath, not with regexes
 * over our own output. Regex translation is checked against libxml2's own
 * XML Schema regex engine, answer by answer, against examday's grading.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { Section, VersionContent } from '../assessments/content.ts';
import { compileAnswerPattern } from '../questions/answer-regex.ts';
import { exactForm } from '../questions/grading.ts';
import { questionInputSchema, type QuestionInputRaw } from '../questions/model.ts';
import {
  buildQtiFiles,
  exportQtiPackage,
  type ExportableQuestion,
  type QtiBuild,
  type QtiExportOptions,
} from './export.ts';
import { toXsdRegex } from './xsd-regex.ts';
import { comment, el, escapeAttr, escapeText, serializeXml } from './xml.ts';

// ─── Environment ────────────────────────────────────────────────────────────

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const fixtures = process.env.EXAMDAY_FIXTURES ? resolve(process.env.EXAMDAY_FIXTURES) : join(repoRoot, '../shared/fixtures');
const xsdDir = join(fixtures, 'qti', 'xsd');
const QTI_XSD = join(xsdDir, 'qtiv2p1', 'imsqti_v2p1.xsd');
const CP_XSD = join(xsdDir, 'imscp_v1p1.xsd');
const haveXsd = existsSync(QTI_XSD) && existsSync(CP_XSD);
const haveXmllint = spawnSync('xmllint', ['--version']).status === 0;
const haveUnzip = spawnSync('unzip', ['-v']).status === 0;
const havePython = spawnSync('python3', ['--version']).status === 0;

const noXmllint = haveXmllint ? false : 'xmllint not installed (Debian package libxml2-utils)';
const noXsd = noXmllint || (haveXsd ? false : `QTI schemas not found in ${xsdDir}`);
if (!haveXmllint) console.log('# notice: xmllint not installed — QTI well-formedness and schema checks skipped');
else if (!haveXsd) console.log(`# notice: ${xsdDir} absent — QTI XSD validation skipped (structural checks still run)`);

function run(cmd: string, args: readonly string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/**
 * `--nonet` keeps xmllint off the network: every schema the QTI XSD imports
 * (w3/, apipv1p0/) is resolved relative to it, from the fixtures folder.
 */
function validate(schema: string, files: readonly string[]): void {
  const r = run('xmllint', ['--noout', '--nonet', '--schema', schema, ...files]);
  assert.equal(r.status, 0, `schema validation against ${schema} failed:\n${r.stderr}`);
  for (const f of files) assert.match(r.stderr, new RegExp(`${escapeRegExp(f)} validates`));
}

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Namespace-agnostic step: xmllint 2.9 cannot register prefixes for --xpath. */
const n = (name: string): string => `*[local-name()='${name}']`;
const path = (...names: string[]): string => names.map((x) => (x.startsWith('@') ? x : n(x))).join('/');

/** A string-valued XPath expression, evaluated by libxml2. */
function xpath(file: string, expr: string): string {
  const r = run('xmllint', ['--nonet', '--xpath', expr, file]);
  assert.equal(r.status, 0, `xpath ${expr} on ${file}: ${r.stderr}`);
  return r.stdout.replace(/\n$/, '');
}

function xpathAll(file: string, nodes: string): string[] {
  const count = Number(xpath(file, `count(${nodes})`));
  return Array.from({ length: count }, (_, i) => xpath(file, `string((${nodes})[${i + 1}])`));
}

// ─── Test data: every type and variant ──────────────────────────────────────

const NASTY = `Tom & Jerry's "<b>bold</b>" > 3 < 4 — Ελληνικά, 日本語, العربية`;

function question(id: string, raw: QuestionInputRaw, extra: { source?: unknown } = {}): ExportableQuestion {
  return { ...questionInputSchema.parse(raw), id, ...extra };
}

const ID = {
  single1: '1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed',
  single2: '2c1f6b0e-3f0a-4c59-8a3e-0d6a2b8e7f11',
  multiAll: '3a7e9c21-5b44-4d1f-9e0c-6f2a1b3c4d5e',
  multiPartial: '4b8f0d32-6c55-4e2a-8f1d-7a3b2c4d5e6f',
  multiThird: '5c9a1e43-7d66-4f3b-9a2e-8b4c3d5e6f70',
  trueFalse: '6d0b2f54-8e77-4a4c-8b3f-9c5d4e6f7081',
  normalized: '7e1c3a65-9f88-4b5d-9c4a-ad6e5f708192',
  exact: '8f2d4b76-a099-4c6e-8d5b-be7f608192a3',
  regex: '9a3e5c87-b1aa-4d7f-9e6c-cf80719203b4',
  regexBad: 'aa4f6d98-c2bb-4e80-8f7d-d0918203a4c5',
  regexMixed: 'bb5a7ea9-d3cc-4f91-9a8e-e1a29314b5d6',
  numericTol: 'cc6b8fba-e4dd-4aa2-8b9f-f2b3a425c6e7',
  numericExact: 'dd7c90cb-f5ee-4bb3-9ca0-03c4b536d7f8',
  pool1: 'ee8da1dc-06ff-4cc4-8db1-14d5c647e809',
  pool2: 'ff9eb2ed-1700-4dd5-9ec2-25e6d758f91a',
  pool3: '0a0fc3fe-2811-4ee6-8fd3-36f7e8690a2b',
} as const;

const SOURCE = { materialId: 'mat-42', page: 7, quote: 'Water boils at 100 °C at sea level & "normal" pressure.' };

const questions: ExportableQuestion[] = [
  question(ID.single1, {
    type: 'single_choice',
    stem: `${NASTY}\nsecond line\n\nSecond paragraph.`,
    options: [
      { id: '1a', text: `<option> & "one" 'uno' ünø` },
      { id: 'b', text: '選択肢 二' },
      { id: '-c', text: 'three' },
    ],
    correct: '1a',
    tags: ['chemistry'],
    difficulty: 'hard',
  }),
  question(
    ID.single2,
    {
      type: 'single_choice',
      stem: 'At what temperature does water boil at sea level?',
      points: 2.5,
      options: [
        { id: 'a', text: '90 °C' },
        { id: 'b', text: '100 °C' },
      ],
      correct: 'b',
      feedback: `At 1 atm & 100 °C — see "Water" <chapter 2>.\n\nΤέλος.`,
    },
    { source: SOURCE },
  ),
  question(ID.multiAll, {
    type: 'multiple_response',
    stem: 'Which are noble gases?',
    options: [
      { id: 'he', text: 'Helium' },
      { id: 'o', text: 'Oxygen' },
      { id: 'ne', text: 'Neon' },
    ],
    correct: ['he', 'ne'],
  }),
  question(ID.multiPartial, {
    type: 'multiple_response',
    stem: 'Which elements form water and table salt?',
    points: 3,
    scoring: 'partial',
    options: [
      { id: 'H', text: 'Hydrogen' },
      { id: 'O', text: 'Oxygen' },
      { id: 'Na', text: 'Sodium' },
      { id: 'He', text: 'Helium' },
      { id: 'Ar', text: 'Argon' },
    ],
    correct: ['H', 'O', 'Na'],
    feedback: 'H₂O and NaCl.',
  }),
  question(ID.multiThird, {
    type: 'multiple_response',
    stem: 'Pick the primes.',
    points: 2,
    scoring: 'partial',
    options: [
      { id: '2', text: '2' },
      { id: '3', text: '3' },
      { id: '4', text: '4' },
      { id: '5', text: '5' },
    ],
    correct: ['2', '3', '5'],
  }),
  question(ID.trueFalse, {
    type: 'true_false',
    stem: 'The Earth is flat.',
    correct: false,
    feedback: 'It is an oblate spheroid.',
  }),
  question(ID.normalized, {
    type: 'short_text',
    stem: 'Capital of France?',
    accepted: ['Paris', '  paris ', 'PARIS', 'Lutèce'],
  }),
  question(ID.exact, {
    type: 'short_text',
    stem: 'Chemical formula of water (exactly)?',
    match: 'exact',
    accepted: ['H2O', 'H₂O', ' H2O '],
    points: 1.25,
  }),
  question(ID.regex, {
    type: 'short_text',
    stem: 'Spell the word for a hue; or give a mass.',
    match: 'regex',
    caseInsensitive: true,
    accepted: ['colou?r', '^[0-9]+\\s*kg$'],
  }),
  question(ID.regexBad, {
    type: 'short_text',
    stem: 'A word containing "cat" as a word.',
    match: 'regex',
    accepted: ['.*\\bcat\\b.*'],
  }),
  question(ID.regexMixed, {
    type: 'short_text',
    stem: 'Dog or dogs.',
    match: 'regex',
    accepted: ['\\bdog', 'dogs?'],
    feedback: 'Either will do.',
  }),
  question(ID.numericTol, {
    type: 'numeric',
    stem: 'g in m/s²?',
    answer: 9.81,
    tolerance: 0.05,
    points: 2,
  }),
  question(ID.numericExact, {
    type: 'numeric',
    stem: '2 − 5 = ?',
    answer: -3,
  }),
  ...[ID.pool1, ID.pool2, ID.pool3].map((id, i) =>
    question(id, { type: 'true_false', stem: `Pool question ${i + 1}`, correct: i % 2 === 0, tags: ['pool'] }),
  ),
];

const poolIds: string[] = [ID.pool1, ID.pool2, ID.pool3];
const sections: Section[] = [
  ...questions.filter((q) => !poolIds.includes(q.id)).map((q): Section => ({ kind: 'fixed', questionId: q.id })),
  { kind: 'random', tag: 'pool', count: 2, poolIds },
];

const content: VersionContent<ExportableQuestion> = {
  title: `Exam: ${NASTY}`,
  description: 'Read every question.\nGood luck & have fun.',
  timeLimitS: 3600,
  shuffleItems: true,
  shuffleOptions: true,
  releasePolicy: 'on_submit',
  sections,
  questions: Object.fromEntries(questions.map((q) => [q.id, q])),
};
const OPTS: QtiExportOptions = { identifier: 'V-0f3c9a1e-version-7', title: content.title, modifiedAt: new Date('2026-01-02T03:04:06Z') };
const itemFile = (id: string): string => `items/${id}.xml`;

// ─── xml.ts ─────────────────────────────────────────────────────────────────

describe('xml writer', () => {
  it('escapes text and attributes so they read back exactly', () => {
    assert.equal(escapeText(`a<b>&"c"'d\r`), `a&lt;b&gt;&amp;"c"'d&#13;`);
    assert.equal(escapeAttr(`a<b>&"c"'\n\t\r`), `a&lt;b&gt;&amp;&quot;c&quot;'&#10;&#9;&#13;`);
    assert.equal(escapeText('no\u00A0break\u200B'), 'no&#xA0;break&#x200B;');
  });

  it('replaces characters XML cannot hold with U+FFFD, keeps astral characters', () => {
    assert.equal(escapeText('a\u0000b\u000Cc\uD800d😀'), 'a\uFFFDb\uFFFDc\uFFFDd😀');
  });

  it('never indents mixed content and keeps comments legal', () => {
    const xml = serializeXml(
      el('root', { n: 1, skip: undefined, ok: true }, el('p', {}, 'x ', el('b', {}, el('i', {}, 'y')), ' z'), comment('a--b-')),
    );
    assert.equal(
      xml,
      '<?xml version="1.0" encoding="UTF-8"?>\n<root n="1" ok="true">\n  <p>x <b><i>y</i></b> z</p>\n  <!--a- -b- -->\n</root>\n',
    );
  });

  it('refuses names that are not XML names and numbers that are not finite', () => {
    assert.throws(() => el('a b'), /invalid XML element name/);
    assert.throws(() => el('a', { '1x': 'v' }), /invalid XML attribute name/);
    assert.throws(() => serializeXml(el('a', { v: Number.NaN })), /not a finite number/);
  });
});

// ─── Regex translation ──────────────────────────────────────────────────────

describe('JavaScript → XML Schema regex', () => {
  it('drops redundant anchors, lazy quantifiers and non-capturing groups', () => {
    const r = toXsdRegex('^(?:cat|dog)s??$');
    assert.ok(r.ok);
    assert.ok(r.pattern.includes('((cat|dog)s?)'), r.pattern);
  });

  it('expands case-insensitive letters into classes, including V8 equivalents', () => {
    const r = toXsdRegex('k', true);
    assert.ok(r.ok);
    assert.ok(r.pattern.includes('[Kk\u212A]'), r.pattern);
  });

  it('refuses what XML Schema cannot say, with a reason', () => {
    for (const [pattern, ci, reason] of [
      ['\\bcat', false, /word boundaries/],
      ['a^b', false, /"\^"/],
      ['(a$)', false, /"\$"/],
      ['\\p{Script=Greek}+', false, /Unicode property/],
      ['\\p{Lu}', true, /ignores case/],
      ['a\\0', false, /U\+0000/],
      ['(?<=a)b', false, /not a valid regular expression|lookaround/],
    ] as const) {
      const r = toXsdRegex(pattern, ci);
      assert.equal(r.ok, false, pattern);
      if (!r.ok) assert.match(r.reason, reason, pattern);
    }
  });

  // Each pattern goes into an XSD <xs:pattern>; libxml2 decides every answer,
  // and must agree with examday's own grading (whole answer, trimmed).
  const cases: [string, boolean, string[]][] = [
    ['colou?r', true, ['color', 'Colour', 'COLOUR', ' colour  ', 'colouur', 'colr']],
    ['^[0-9]+\\s*kg$', true, ['12kg', '12 KG', '12\u00A0kg', 'kg', '１２kg', '12 kg ']],
    ['^(?:cat|dog)s?$', false, ['cats', 'dog', 'cat dog', 'dogss', 'Cat']],
    ['a.c', false, ['abc', 'a\nc', 'a\u2028c', 'a😀c', 'ac']],
    ['[^a-c]+', true, ['xyz', 'ABC', 'dA', 'é']],
    ['\\w+', true, ['ſ', '\u212A', 'é', 'a_1']],
    ['\\W', false, ['é', 'a', '-']],
    ['\\p{Lu}\\p{Ll}+', false, ['Ärger', 'ärger', 'ÄRGER']],
    ['x{2,3}y*?', false, ['xx', 'xxx', 'xxxx', 'xxyy']],
    ['[\\d.,\\-]+', false, ['3.5', '-1,2', 'a', '٣']],
    ['\\u{1F600}|\\uD83D\\uDE01', false, ['😀', '😁', 'x']],
    ['Straße', true, ['straße', 'STRAẞE', 'STRASSE']],
    ['日本語|Ελληνικά', true, ['日本語', 'ΕΛΛΗΝΙΚΆ', 'ελληνικα']],
    ['\\$\\d+(?:\\.\\d\\d)?', false, ['$5', '$5.00', '5', '$5.0']],
    ['a|', false, ['a', '', '  ', 'b']],
    ['[\\^\\]\\[\\\\|{}()*+?.]', false, ['^', ']', '[', '\\', '|', '{', '.', 'a']],
    ['A\\tB\\x43\\u0044\\cJ?E', false, ['A\tBCDE', 'A\tBCD\nE', 'ABCDE']],
    ['[!-\\[\\]-a]', false, ['!', '[', '\\', ']', '^', 'a', 'b']],
  ];

  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'qti-regex-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const [index, [pattern, ci, answers]] of cases.entries()) {
    it(`/${pattern}/${ci ? 'i' : ''} accepts exactly what examday accepts`, { skip: noXmllint }, () => {
      const converted = toXsdRegex(pattern, ci);
      assert.ok(converted.ok, converted.ok ? '' : converted.reason);
      const schema = join(dir, `p${index}.xsd`);
      writeFileSync(
        schema,
        serializeXml(
          el(
            'xs:schema',
            { 'xmlns:xs': 'http://www.w3.org/2001/XMLSchema' },
            el(
              'xs:element',
              { name: 'v' },
              el('xs:simpleType', {}, el('xs:restriction', { base: 'xs:string' }, el('xs:pattern', { value: converted.pattern }))),
            ),
          ),
        ),
      );
      const files = answers.map((answer, i) => {
        const file = join(dir, `p${index}-a${i}.xml`);
        writeFileSync(file, serializeXml(el('v', {}, answer)));
        return file;
      });
      const r = run('xmllint', ['--noout', '--nonet', '--schema', schema, ...files]);
      assert.doesNotMatch(r.stderr, /failed to compile|WXS schema .* failed/, r.stderr);
      const matcher = compileAnswerPattern(pattern, ci);
      answers.forEach((answer, i) => {
        const expected = matcher.test(exactForm(answer));
        const actual = new RegExp(`${escapeRegExp(files[i]!)} validates`).test(r.stderr);
        assert.equal(actual, expected, `${JSON.stringify(answer)}: XSD ${actual}, examday ${expected}; pattern ${converted.pattern}`);
      });
    });
  }
});

// ─── The package ────────────────────────────────────────────────────────────

describe('QTI 2.1 package', () => {
  let dir = '';
  let built: QtiBuild;
  const file = (p: string): string => join(dir, 'built', p);

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'qti-export-'));
    built = buildQtiFiles(content, OPTS);
    for (const f of built.files) {
      mkdirSync(dirname(file(f.path)), { recursive: true });
      writeFileSync(file(f.path), f.xml);
    }
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('has a manifest, a test and one item per question, and is deterministic', () => {
    assert.deepEqual(
      built.files.map((f) => f.path),
      ['imsmanifest.xml', 'assessmentTest.xml', ...questions.map((q) => itemFile(q.id))],
    );
    assert.deepEqual(buildQtiFiles(content, OPTS), built);
  });

  it('reports exactly the patterns it could not express', () => {
    assert.deepEqual(
      built.warnings.map((w) => [w.code, w.questionId]),
      [
        ['regex_not_expressible', ID.regexBad],
        ['regex_not_expressible', ID.regexMixed],
      ],
    );
    assert.match(built.warnings[0]!.message, /\\bcat\\b.*word boundaries.*no automatic scoring/);
    assert.match(built.warnings[1]!.message, /accepts only the other patterns/);
  });

  it('is well-formed XML everywhere', { skip: noXmllint }, () => {
    const r = run('xmllint', ['--noout', '--nonet', ...built.files.map((f) => file(f.path))]);
    assert.equal(r.status, 0, r.stderr);
  });

  it('manifest lists every file, resource and dependency', { skip: noXmllint }, () => {
    const manifest = file('imsmanifest.xml');
    const listed = xpathAll(manifest, `//${path('resource', 'file')}/@href`);
    assert.deepEqual(new Set(listed), new Set(built.files.map((f) => f.path).filter((p) => p !== 'imsmanifest.xml')));
    assert.equal(listed.length, built.files.length - 1);

    const resource = (type: string): string => `//${n('resource')}[@type='${type}']`;
    assert.equal(xpath(manifest, `string(${resource('imsqti_test_xmlv2p1')}/@href)`), 'assessmentTest.xml');
    const itemHrefs = xpathAll(manifest, `${resource('imsqti_item_xmlv2p1')}/@href`);
    assert.deepEqual(itemHrefs, questions.map((q) => itemFile(q.id)));

    const resourceIds = xpathAll(manifest, `//${n('resource')}/@identifier`);
    assert.equal(new Set(resourceIds).size, resourceIds.length, 'resource identifiers are unique');
    const deps = xpathAll(manifest, `${resource('imsqti_test_xmlv2p1')}/${n('dependency')}/@identifierref`);
    const itemResourceIds = xpathAll(manifest, `${resource('imsqti_item_xmlv2p1')}/@identifier`);
    assert.deepEqual(deps, itemResourceIds, 'the test depends on every item');

    // Metadata an LMS keeps: tags as keywords, difficulty in LOM terms.
    const single1 = `${resource('imsqti_item_xmlv2p1')}[@href='${itemFile(ID.single1)}']`;
    assert.equal(xpath(manifest, `string(${single1}//${path('keyword', 'langstring')})`), 'chemistry');
    assert.equal(xpath(manifest, `string(${single1}//${path('difficulty', 'value', 'langstring')})`), 'difficult');
  });

  it('test references every item once, with pools, shuffle and time limit', { skip: noXmllint }, () => {
    const test = file('assessmentTest.xml');
    const refs = xpathAll(test, `//${n('assessmentItemRef')}/@href`);
    assert.deepEqual(refs, questions.map((q) => itemFile(q.id)));
    const refIds = xpathAll(test, `//${n('assessmentItemRef')}/@identifier`);
    assert.deepEqual(refIds, questions.map((q) => `Q-${q.id}`));
    assert.equal(xpath(test, `string(//${n('timeLimits')}/@maxTime)`), '3600');
    assert.equal(xpath(test, `string(/${path('assessmentTest', 'testPart', 'assessmentSection', 'ordering')}/@shuffle)`), 'true');
    const pool = `/${path('assessmentTest', 'testPart', 'assessmentSection', 'assessmentSection')}`;
    assert.equal(xpath(test, `string(${pool}/${n('selection')}/@select)`), '2');
    assert.equal(xpath(test, `count(${pool}/${n('assessmentItemRef')})`), '3');
    assert.equal(xpath(test, `string(/${n('assessmentTest')}/@title)`), content.title);
  });

  it('uses unique NCName identifiers', { skip: noXmllint }, () => {
    const ncname = /^[A-Za-z_][A-Za-z0-9._-]*$/;
    const itemIds: string[] = [];
    for (const q of questions) {
      const f = file(itemFile(q.id));
      const id = xpath(f, `string(/${n('assessmentItem')}/@identifier)`);
      assert.equal(id, `Q-${q.id}`);
      itemIds.push(id);
      const choices = xpathAll(f, `//${n('simpleChoice')}/@identifier`);
      assert.equal(new Set(choices).size, choices.length);
      for (const c of [id, ...choices]) assert.match(c, ncname);
    }
    assert.equal(new Set(itemIds).size, itemIds.length);
    assert.match(xpath(file('imsmanifest.xml'), `string(/${n('manifest')}/@identifier)`), ncname);
  });

  it('keeps stems, options and feedback text exactly, including special and non-Latin characters', { skip: noXmllint }, () => {
    const f = file(itemFile(ID.single1));
    assert.equal(xpath(f, `count(/${path('assessmentItem', 'itemBody', 'p')})`), '2');
    assert.equal(xpath(f, `string(/${path('assessmentItem', 'itemBody', 'p')}[1])`), `${NASTY}second line`);
    assert.equal(xpath(f, `count(/${path('assessmentItem', 'itemBody', 'p')}[1]/${n('br')})`), '1');
    assert.deepEqual(xpathAll(f, `//${n('simpleChoice')}`), [`<option> & "one" 'uno' ünø`, '選択肢 二', 'three']);
    assert.equal(xpath(f, `string(/${n('assessmentItem')}/@title)`).startsWith(`Tom & Jerry's "<b>bold</b>"`), true);

    const fb = file(itemFile(ID.single2));
    assert.deepEqual(xpathAll(fb, `//${path('modalFeedback', 'p')}`), [`At 1 atm & 100 °C — see "Water" <chapter 2>.`, 'Τέλος.']);
  });

  it('maps each question type to the right interaction, answers and score', { skip: noXmllint }, () => {
    const rd = `/${path('assessmentItem', 'responseDeclaration')}[@identifier='RESPONSE']`;
    const correct = (f: string): string[] => xpathAll(f, `${rd}/${path('correctResponse', 'value')}`);
    const attr = (f: string, expr: string): string => xpath(f, `string(${expr})`);
    const maxScore = (f: string): number =>
      Number(attr(f, `/${path('assessmentItem', 'outcomeDeclaration')}[@identifier='MAXSCORE']/${path('defaultValue', 'value')}`));
    const template = (f: string): string => attr(f, `/${path('assessmentItem', 'responseProcessing')}/@template`);
    const TEMPLATES = 'http://www.imsglobal.org/question/qti_v2p1/rptemplates/';

    for (const q of questions) {
      const f = file(itemFile(q.id));
      assert.equal(maxScore(f), q.points, `MAXSCORE of ${q.id}`);
      assert.equal(attr(f, `/${path('assessmentItem', 'outcomeDeclaration')}[@identifier='SCORE']/@baseType`), 'float');
      const feedback = xpath(f, `count(//${n('modalFeedback')}[@outcomeIdentifier='FEEDBACK'][@showHide='show'])`);
      assert.equal(feedback, q.feedback === undefined ? '0' : '1', `feedback of ${q.id}`);
      if (q.feedback !== undefined) {
        assert.equal(xpath(f, `count(//${n('setOutcomeValue')}[@identifier='FEEDBACK'])`), '1');
      }

      switch (q.type) {
        case 'single_choice':
        case 'true_false': {
          assert.equal(attr(f, `${rd}/@cardinality`), 'single');
          assert.equal(attr(f, `${rd}/@baseType`), 'identifier');
          assert.equal(attr(f, `//${n('choiceInteraction')}/@maxChoices`), '1');
          const expected = q.type === 'true_false' ? String(q.correct) : `O-${q.correct}`;
          assert.deepEqual(correct(f), [expected]);
          if (q.type === 'true_false') {
            assert.deepEqual(xpathAll(f, `//${n('simpleChoice')}/@identifier`), ['true', 'false']);
            assert.equal(attr(f, `//${n('choiceInteraction')}/@shuffle`), 'false');
          } else {
            assert.equal(attr(f, `//${n('choiceInteraction')}/@shuffle`), 'true');
          }
          // match_correct scores 1, so only 1-point items without feedback may use it.
          if (q.points === 1 && q.feedback === undefined) assert.equal(template(f), `${TEMPLATES}match_correct`);
          else {
            assert.equal(template(f), '');
            assert.equal(xpath(f, `count(//${path('responseIf', 'match', 'correct')})`), '1');
            assert.equal(xpath(f, `count(//${path('responseIf', 'setOutcomeValue')}[@identifier='SCORE']/${n('variable')}[@identifier='MAXSCORE'])`), '1');
          }
          break;
        }
        case 'multiple_response': {
          assert.equal(attr(f, `${rd}/@cardinality`), 'multiple');
          assert.equal(attr(f, `//${n('choiceInteraction')}/@maxChoices`), '0');
          assert.deepEqual(correct(f), q.correct.map((id) => `O-${id}`));
          if (q.scoring === 'all_or_nothing') {
            assert.equal(template(f), `${TEMPLATES}match_correct`);
            assert.equal(xpath(f, `count(//${n('mapping')})`), '0');
            break;
          }
          const mapping = `${rd}/${n('mapping')}`;
          assert.equal(Number(attr(f, `${mapping}/@lowerBound`)), 0);
          assert.equal(Number(attr(f, `${mapping}/@upperBound`)), q.points);
          const share = q.points / q.correct.length;
          for (const o of q.options) {
            const value = Number(attr(f, `${mapping}/${n('mapEntry')}[@mapKey='O-${o.id}']/@mappedValue`));
            assert.ok(Math.abs(value - (q.correct.includes(o.id) ? share : -share)) < 1e-12, `${o.id}: ${value}`);
          }
          if (q.feedback === undefined) assert.equal(template(f), `${TEMPLATES}map_response`);
          else assert.equal(xpath(f, `count(//${path('responseElse', 'setOutcomeValue', 'mapResponse')})`), '1');
          break;
        }
        case 'short_text': {
          assert.equal(xpath(f, `count(//${path('itemBody', 'p', 'textEntryInteraction')})`), '1');
          assert.equal(attr(f, `${rd}/@baseType`), 'string');
          if (q.match === 'regex') {
            const patterns = xpathAll(f, `//${n('patternMatch')}/@pattern`);
            const expected = q.accepted.flatMap((p) => {
              const r = toXsdRegex(p, q.caseInsensitive ?? false);
              return r.ok ? [r.pattern] : [];
            });
            assert.deepEqual(patterns, expected);
            if (patterns.length === 0) {
              assert.equal(xpath(f, `count(//${n('responseCondition')})`), '0', 'no automatic scoring');
              assert.match(readFileSync(f, 'utf8'), /<!-- examday: accepted pattern \/\.\*\\bcat\\b\.\*\/ is not exported/);
            }
            if (patterns.length < q.accepted.length) {
              assert.match(xpath(f, `string(//${n('rubricBlock')}[@view='scorer'])`), /is not exported/);
            }
            break;
          }
          const keys = xpathAll(f, `${rd}/${path('mapping', 'mapEntry')}/@mapKey`);
          const sensitive = xpathAll(f, `${rd}/${path('mapping', 'mapEntry')}/@caseSensitive`);
          const values = xpathAll(f, `${rd}/${path('mapping', 'mapEntry')}/@mappedValue`).map(Number);
          if (q.match === 'normalized') {
            assert.deepEqual(keys, ['Paris', 'Lutèce']);
            assert.deepEqual(sensitive, ['false', 'false']);
          } else {
            assert.deepEqual(keys, ['H2O', 'H₂O']);
            assert.deepEqual(sensitive, ['true', 'true']);
          }
          assert.deepEqual(values, keys.map(() => q.points));
          assert.deepEqual(correct(f), [keys[0]]);
          assert.equal(template(f), `${TEMPLATES}map_response`);
          break;
        }
        case 'numeric': {
          assert.equal(attr(f, `${rd}/@baseType`), 'float');
          assert.deepEqual(correct(f).map(Number), [q.answer]);
          const equal = `//${path('responseIf', 'equal')}`;
          if (q.tolerance > 0) {
            assert.equal(attr(f, `${equal}/@toleranceMode`), 'absolute');
            assert.deepEqual(attr(f, `${equal}/@tolerance`).split(' ').map(Number), [q.tolerance, q.tolerance]);
          } else {
            assert.equal(attr(f, `${equal}/@toleranceMode`), 'exact');
          }
          break;
        }
      }
    }
  });

  it('keeps the source citation for authors and scorers only', { skip: noXmllint }, () => {
    const f = file(itemFile(ID.single2));
    const rubric = `//${n('itemBody')}/${n('rubricBlock')}[@class='examday-source']`;
    assert.equal(xpath(f, `string(${rubric}/@view)`), 'author scorer tutor');
    assert.equal(xpath(f, `string(${rubric}/${n('p')})`), 'Source: material mat-42, page 7');
    assert.equal(xpath(f, `string(${rubric}/${path('blockquote', 'p')})`), SOURCE.quote);
    assert.equal(xpath(file(itemFile(ID.single1)), `count(//${n('rubricBlock')})`), '0');
  });

  it('validates against the official IMS QTI 2.1 and IMS CP 1.1 schemas', { skip: noXsd }, () => {
    validate(
      QTI_XSD,
      built.files.filter((f) => f.path !== 'imsmanifest.xml').map((f) => file(f.path)),
    );
    validate(CP_XSD, [file('imsmanifest.xml')]);
    // The CP schema checks foreign metadata laxly and does not import the QTI
    // metadata schema; a wrapper importing all three checks it strictly.
    const wrapper = join(dir, 'manifest-metadata.xsd');
    const imports: [string, string][] = [
      ['http://www.imsglobal.org/xsd/imscp_v1p1', CP_XSD],
      ['http://www.imsglobal.org/xsd/imsmd_v1p2', join(xsdDir, 'imsmd_v1p2p4.xsd')],
      ['http://www.imsglobal.org/xsd/imsqti_metadata_v2p1', join(xsdDir, 'qtiv2p1', 'imsqti_metadata_v2p1.xsd')],
    ];
    writeFileSync(
      wrapper,
      serializeXml(
        el(
          'xs:schema',
          { 'xmlns:xs': 'http://www.w3.org/2001/XMLSchema', targetNamespace: 'urn:examday:test:wrapper' },
          imports.map(([namespace, location]) => el('xs:import', { namespace, schemaLocation: pathToFileURL(location).href })),
        ),
      ),
    );
    validate(wrapper, [file('imsmanifest.xml')]);
  });

  it('streams a zip that unpacks to exactly these files', { skip: haveUnzip || havePython ? false : 'neither unzip nor python3 installed' }, async () => {
    const zip = join(dir, 'package.zip');
    await pipeline(exportQtiPackage(content, OPTS), createWriteStream(zip));
    const out = join(dir, 'unzipped');
    const r = haveUnzip ? run('unzip', ['-q', '-o', zip, '-d', out]) : run('python3', ['-m', 'zipfile', '-e', zip, out]);
    assert.equal(r.status, 0, r.stderr);
    const listing = haveUnzip ? run('unzip', ['-Z1', zip]).stdout : run('python3', ['-m', 'zipfile', '-l', zip]).stdout;
    assert.equal(listing.trim().split('\n').length, built.files.length, listing);
    for (const f of built.files) assert.equal(readFileSync(join(out, f.path), 'utf8'), f.xml, f.path);
  });
});

describe('QTI export edge cases', () => {
  it('exports questions outside every section as items only, and skips missing ones, with warnings', () => {
    const lonely = question('q-1', { type: 'true_false', stem: 'Alone', correct: true });
    const weird = question('a b/c', { type: 'numeric', stem: 'Odd id', answer: 1 });
    const built = buildQtiFiles(
      {
        ...content,
        sections: [{ kind: 'fixed', questionId: 'a b/c' }, { kind: 'fixed', questionId: 'gone' }],
        questions: { 'q-1': lonely, 'a b/c': weird },
      },
      { identifier: 'not an ncname', title: 't' },
    );
    assert.deepEqual(
      built.warnings.map((w) => [w.code, w.questionId]),
      [
        ['question_missing', 'gone'],
        ['question_not_in_test', 'q-1'],
      ],
    );
    // Ids that are no NCName (or no safe file name) are sanitised, consistently in every file.
    assert.deepEqual(
      built.files.map((f) => f.path),
      ['imsmanifest.xml', 'assessmentTest.xml', 'items/q-1.xml', 'items/a_b_c.xml'],
    );
    const test = built.files[1]!.xml;
    assert.ok(test.includes('identifier="T-not_an_ncname"'));
    assert.ok(test.includes('<assessmentItemRef identifier="Q-a_b_c" href="items/a_b_c.xml" fixed="false"/>'));
    assert.ok(!test.includes('Q-q-1'));
  });

  it('omits the time limit when there is none and keeps item order when not shuffling', () => {
    const built = buildQtiFiles({ ...content, timeLimitS: 0, shuffleItems: false }, OPTS);
    const test = built.files[1]!.xml;
    assert.ok(!test.includes('timeLimits'));
    assert.ok(!test.includes('<ordering shuffle="true"/>\n      <rubricBlock'));
  });
});
