export type { AppErrorData, AppRouter, RouterInputs, RouterOutputs } from './client.ts';
export { buildServer } from './server.ts';
