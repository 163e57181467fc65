// docs/api.md is the users' reference: it must list exactly the router's procedures (one
// "#### `name`" heading each), say whether each is a query or a mutation as the router does,
// show a curl call of it (with the JSON content type on mutations), and list exactly the
// contract's error codes. The README points to it.
import { readFileSync } from 'node:fs';
import { AppErrorCode } from '@flash/core';
import { describe, expect, it } from 'vitest';
import { appRouter } from '../src/trpc/root.ts';

const doc = readFileSync(new URL('../../../docs/api.md', import.meta.url), 'utf8');
const procedures = appRouter._def.procedures as unknown as Record<string, { _def: { type: string } }>;

/** Each documented procedure and the text of its section (up to the next heading). */
function documentedProcedures(): Map<string, string> {
  const sections = new Map<string, string>();
  const headings = [...doc.matchAll(/^#{1,6} .*$/gm)];
  for (const [i, heading] of headings.entries()) {
    const name = /^#### `([^`]+)`$/.exec(heading[0])?.[1];
    if (!name) continue;
    const end = headings[i + 1]?.index ?? doc.length;
    sections.set(name, doc.slice(heading.index, end));
  }
  return sections;
}

describe('docs/api.md', () => {
  const documented = documentedProcedures();

  it("documents exactly the router's procedures", () => {
    expect([...documented.keys()].sort()).toEqual(Object.keys(procedures).sort());
  });

  it.each([...documented.keys()])('%s: its kind and a curl call', (name) => {
    const section = documented.get(name)!;
    const kind = procedures[name]?._def.type;
    if (kind) expect(section).toMatch(kind === 'mutation' ? /^Mutation\b/m : /^Query\b/m);
    const example = /```sh\n([\s\S]*?)```/.exec(section)?.[1];
    expect(example, `${name} has no sh example`).toBeDefined();
    expect(example).toContain('curl');
    expect(example).toMatch(new RegExp(`/trpc/${name.replaceAll('.', '\\.')}\\b`));
    if (kind === 'mutation') expect(example).toContain("-H 'content-type: application/json'");
  });

  it("lists exactly the contract's error codes", () => {
    const errors = doc.slice(doc.indexOf('\n## Errors'));
    const table = errors.slice(0, errors.indexOf('\n## ', 1));
    const codes = [...table.matchAll(/^\| `([A-Z_]+)`\s*\|/gm)].map((m) => m[1]);
    expect(codes.sort()).toEqual(Object.values(AppErrorCode).sort());
  });

  it('is where the README\'s "Calling the API" sends readers, with the mutation header shown', () => {
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    const calling = readme.slice(readme.indexOf('## Calling the API'));
    const section = calling.slice(0, calling.indexOf('\n## ', 1));
    expect(section).toContain('(docs/api.md)');
    expect(section).toContain("-H 'content-type: application/json'");
    expect(readme).not.toContain('contract/api.md');
  });
});
