import type { inferRouterInputs, inferRouterOutputs } from '@trpc/server';
import type { AppRouter } from './root.ts';

export { type Context, type ContextDeps, type ContextLogger, createContext, type RequestInfo } from './context.ts';
export { assertStorableText, InvalidTextError, type TextIssue, unstorableTextIssues } from './inputText.ts';
export { type LiveSubscription, subscriptionSignal } from './liveSubscription.ts';
export { PROCEDURE_RESULT_CODES, type ProcedureInfo, procedureList } from './procedureList.ts';
export { type AppRouter, appRouter } from './root.ts';
export { appError, createCallerFactory, DATABASE_RETRY_AFTER_S, INTERNAL_MESSAGE, trpcCodeOfStatus } from './trpc.ts';

export type RouterInputs = inferRouterInputs<AppRouter>;
export type RouterOutputs = inferRouterOutputs<AppRouter>;
