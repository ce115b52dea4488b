// Writes openapi.json from the route schemas (see src/http/openapi.ts).
import { writeFile } from 'node:fs/promises';
import { generateOpenApi } from '../src/http/openapi.ts';

await writeFile(new URL('../openapi.json', import.meta.url), await generateOpenApi());
process.stdout.write('openapi.json written\n');
// PGlite's WASM runtime can keep the loop alive a while after close; nothing is pending.
process.exit(0);
