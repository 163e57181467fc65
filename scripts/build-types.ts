// Emits the declaration files (`dist/types/`) that `@flash/api` and `@flash/core` export under
// the `types` condition, so a client such as apps/web type-checks against `.d.ts` files and
// never compiles a server source. Run by `pnpm install` (prepare) and `pnpm typecheck`; the
// output is git-ignored. Inside the repo, tsconfig's `customConditions: ["source"]` keeps every
// import on the sources, so the server's own type check never reads these files.
import { spawn } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');

/** The packages whose declarations a client needs: the router and the domain types it names. */
export const TYPED_PACKAGES = ['packages/core', 'apps/api'] as const;

function emit(pkg: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [tsc, '-p', path.join(root, pkg, 'tsconfig.types.json')], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c) => {
      output += c;
    });
    child.stderr.on('data', (c) => {
      output += c;
    });
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0
        ? resolve()
        : reject(new Error(`declarations of ${pkg} failed (tsc exit ${code}):\n${output}`)),
    );
  });
}

/** Emits every package's declarations (in parallel: each run type-checks on its own). */
export async function buildTypes(): Promise<void> {
  await Promise.all(TYPED_PACKAGES.map(emit));
}

if (import.meta.main) {
  buildTypes().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
