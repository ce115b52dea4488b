/** Helpers shared by the materials test files (not a test file itself). */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Actor, TestApp } from '../../testing/app.ts';
import type { MaterialView } from './model.ts';

export const API = '/api/v1';

/** A multipart body built by hand, so tests control exactly what is sent. */
export function multipart(file: Buffer, filename = 'notes.pdf', fields: Record<string, string> = {}): { payload: Buffer; headers: Record<string, string> } {
  const boundary = `----examday${randomBytes(8).toString('hex')}`;
  const parts: Buffer[] = [];
  for (const [name, value] of Object.entries(fields)) {
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`));
  }
  parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\nContent-Type: application/pdf\r\n\r\n`));
  parts.push(file, Buffer.from(`\r\n--${boundary}--\r\n`));
  return { payload: Buffer.concat(parts), headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } };
}

export async function upload(t: TestApp, who: Actor, file: Buffer, filename?: string, fields?: Record<string, string>) {
  const body = multipart(file, filename, fields);
  return t.app.inject({ method: 'POST', url: `${API}/materials`, payload: body.payload, headers: { ...who.headers, ...body.headers } });
}

/** Polls a material until `done` holds (or it is finished otherwise), failing with its last state after `timeoutMs`. */
export async function waitFor(t: TestApp, who: Actor, id: string, done: (m: MaterialView) => boolean = isFinished, timeoutMs = 60_000): Promise<MaterialView> {
  const deadline = Date.now() + timeoutMs;
  let last: MaterialView | undefined;
  while (Date.now() < deadline) {
    const res = await t.app.inject({ method: 'GET', url: `${API}/materials/${id}`, headers: who.headers });
    assert.equal(res.statusCode, 200, res.body);
    last = res.json<MaterialView>();
    if (done(last)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`material ${id} did not get there in ${timeoutMs} ms; last state ${JSON.stringify(last)}`);
}

export const isFinished = (m: MaterialView): boolean => m.status === 'ready' || m.status === 'failed';

const normalize = (s: string): string => s.replace(/\s+/g, ' ').trim();

export interface CitedQuestion {
  id: string;
  stem: string;
  status: string;
  source: { materialId: string; page: number; quote: string };
}

/** Every question of the material cites a page whose extracted text contains its quote; returns them. */
export async function assertCitationsValid(t: TestApp, who: Actor, id: string): Promise<CitedQuestion[]> {
  const res = await t.app.inject({ method: 'GET', url: `${API}/materials/${id}/questions`, headers: who.headers });
  assert.equal(res.statusCode, 200, res.body);
  const { items } = res.json<{ items: CitedQuestion[] }>();
  const pages = new Map<number, string>();
  for (const q of items) {
    assert.equal(q.source.materialId, id);
    if (!pages.has(q.source.page)) {
      const page = await t.app.inject({ method: 'GET', url: `${API}/materials/${id}/pages/${q.source.page}`, headers: who.headers });
      assert.equal(page.statusCode, 200, page.body);
      pages.set(q.source.page, normalize(page.json<{ text: string }>().text));
    }
    const text = pages.get(q.source.page)!;
    // The citation validator also accepts line-break hyphenation and typographic variants; plain containment covers these fixtures.
    assert.ok(text.includes(normalize(q.source.quote)) || text.replace(/-\s/g, '').includes(normalize(q.source.quote).replace(/-\s/g, '')), `quote not on page ${q.source.page}: ${q.source.quote}`);
  }
  return items;
}

/** Course-like text: sentences with recurring key terms, the kind the offline generator turns into questions. */
export const COURSE_PAGES: string[][] = [
  [
    'Photosynthesis is the process by which green plants convert light energy into',
    'chemical energy. The chloroplast is the organelle where photosynthesis takes',
    'place in plant cells. Chlorophyll is the green pigment that absorbs red and',
    'blue light. The Calvin cycle uses carbon dioxide to build glucose molecules.',
    'Oxygen is released as a by-product when water molecules are split by light.',
  ],
  [
    'Cellular respiration is the process that releases energy stored in glucose.',
    'The mitochondrion is the organelle where cellular respiration takes place.',
    'Glycolysis splits one glucose molecule into two molecules of pyruvate.',
    'The Krebs cycle produces carbon dioxide and transfers energy to carriers.',
    'Adenosine triphosphate is the molecule that cells use as an energy currency.',
  ],
  [
    'Osmosis is the movement of water across a semipermeable membrane.',
    'Diffusion is the movement of particles from high to low concentration.',
    'Active transport moves substances against a gradient and requires energy.',
    'The cell membrane is made of a phospholipid bilayer with embedded proteins.',
    'Ribosomes are the structures that assemble proteins from amino acids.',
  ],
];
