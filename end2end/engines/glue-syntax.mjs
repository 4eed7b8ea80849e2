// Checks that the WebAssembly's JavaScript glue parses as ES2017, the level of the oldest
// engine tvsignin claims to run in full (the Chromium 63 class: ES2017 plus module scripts).
// A newer syntax in a toolchain update fails command 2 here instead of on a TV. The glue is a
// module; `import.meta` (Chromium 64) is swapped out by scripts/build.sh.
// Usage: node end2end/engines/glue-syntax.mjs [target/site/pkg]
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'acorn';

const dir = process.argv[2] ?? 'target/site/pkg';
const files = readdirSync(dir).filter((name) => name.endsWith('.js'));
if (files.length === 0) {
  console.error(`FAIL no .js file in ${dir}`);
  process.exit(1);
}
let failed = false;
for (const name of files) {
  const source = readFileSync(join(dir, name), 'utf8');
  try {
    parse(source, { ecmaVersion: 2017, sourceType: 'module' });
    console.error(`OK   ${name}: ${source.length} bytes parse as ES2017`);
  } catch (error) {
    const at = error.pos ?? 0;
    console.error(`FAIL ${name}: not ES2017 (${error.message}) near: ${source.slice(Math.max(0, at - 60), at + 40)}`);
    failed = true;
  }
}
process.exit(failed ? 1 : 0);
