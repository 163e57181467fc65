export { buildServer } from './server.ts';
export type { AppRouter, RouterInputs, RouterOutputs } from './trpc/root.ts';
