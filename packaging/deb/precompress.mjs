// Writes `<file>.br` and `<file>.gz` next to each compressible browser file in a directory,
// as the server does at start-up (src/server/assets.rs, same extensions). The installed
// service cannot write under /usr (ProtectSystem=strict), so the package carries them.
// Usage: node packaging/deb/precompress.mjs <dir>
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, gzipSync, constants } from 'node:zlib';

const COMPRESSIBLE = ['js', 'wasm', 'css', 'svg', 'json'];

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node precompress.mjs <dir>');
  process.exit(2);
}
let count = 0;
for (const name of readdirSync(dir)) {
  const extension = name.split('.').pop();
  if (!COMPRESSIBLE.includes(extension)) continue;
  const data = readFileSync(join(dir, name));
  const brotli = brotliCompressSync(data, {
    params: {
      [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
      [constants.BROTLI_PARAM_LGWIN]: 22,
      [constants.BROTLI_PARAM_SIZE_HINT]: data.length,
    },
  });
  writeFileSync(join(dir, `${name}.br`), brotli);
  writeFileSync(join(dir, `${name}.gz`), gzipSync(data, { level: 9 }));
  console.log(`${name}: ${data.length} B, brotli ${brotli.length} B`);
  count += 1;
}
if (count === 0) {
  console.error(`no compressible files in ${dir}`);
  process.exit(1);
}
