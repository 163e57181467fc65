// `pnpm loadtest:install`: this project does not build or install k6 (its machines' package
// policy lists go.k6.io/k6 as not to be used, AGPL-3.0); it explains how to use your own.
import { resolveK6 } from './lib/k6.ts';

const found = resolveK6();
console.log(`k6 is not installed by this project. The sale is defined once in loadtests/scenarios/;
loadtests/k6/sale.js drives it with k6. With a k6 you installed yourself:

  K6_BIN=/path/to/k6 pnpm loadtest sale [--waiting-room]
  k6 run -e BASE_URL=http://127.0.0.1:3000 -e AUTH_JWT_SECRET=... [-e WAITING_ROOM=1] loadtests/k6/sale.js

Without k6, \`pnpm loadtest sale\` runs the same scenario with the Node driver and the same checks.
${found ? `k6 found: ${found}` : 'No k6 binary found (K6_BIN unset, none on PATH).'}`);
