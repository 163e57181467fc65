// `pnpm loadtest:install`: this project does not build or install k6. The package policy of the
// machines it is developed and tested on lists go.k6.io/k6 as not to be used (AGPL-3.0), so
// the k6 scenarios in loadtests/k6/ are shipped as scripts for operators who already have k6,
// and `pnpm loadtest` runs the same scenarios with autocannon (an MIT devDependency) otherwise.
import { existsSync } from 'node:fs';
import { resolveK6 } from './lib/k6.ts';

const found = resolveK6();
console.log(`k6 is not installed by this project.

The scenarios are defined once in loadtests/scenarios/*.js; loadtests/k6/*.js drive them
with k6 (thresholds, a token minted per virtual user, and the closing invariant check through
the API in teardown). To run them with k6, point this project at a k6 binary you installed
yourself:

  K6_BIN=/path/to/k6 pnpm loadtest coupon-flash-crowd

or run a script directly against a running service:

  k6 run -e BASE_URL=http://127.0.0.1:3000 -e AUTH_JWT_SECRET=... -e QUANTITY=1000 \\
    loadtests/k6/coupon-flash-crowd.js

Without k6, \`pnpm loadtest <scenario>\` runs the same four scenarios with autocannon
(installed with the project's devDependencies) and the same invariant checks.
`);
if (found) console.log(`k6 found: ${found}${existsSync(found) ? '' : ' (missing!)'}`);
else console.log('No k6 binary found (K6_BIN unset and no k6 on PATH): pnpm loadtest will use autocannon.');
