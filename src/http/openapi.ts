/**
 * The OpenAPI document, generated from the route schemas. `npm run openapi`
 * writes it to openapi.json (committed); a test fails when that file is stale.
 */
import { openTestPglite } from '../testing/db.ts';
import { createTestApp } from '../testing/app.ts';

export async function generateOpenApi(): Promise<string> {
  const t = await createTestApp({ name: 'pglite', open: openTestPglite });
  try {
    return `${JSON.stringify(t.app.swagger(), null, 2)}\n`;
  } finally {
    await t.close();
  }
}
