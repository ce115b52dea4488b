import { it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateOpenApi } from './openapi.ts';

it('the committed openapi.json matches the routes (run `npm run openapi` after changing a route)', async () => {
  const file = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../openapi.json');
  const committed = await readFile(file, 'utf8');
  assert.ok(committed === (await generateOpenApi()), 'openapi.json is stale: run `npm run openapi` and commit it');
});
