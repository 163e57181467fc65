export { buildServer } from './server.ts';
export type { AppErrorData } from './trpc/app-code.ts';
export type { AppRouter, RouterInputs, RouterOutputs } from './trpc/root.ts';
