/**
 * The published `AppRouter` is the server's router less its context: every procedure's input and output
 * is the server's own, and so is the error shape. Checked by the type checker (`pnpm check`); the test
 * run only confirms the file compiles.
 */
import type { AppRouter, RouterInputs, RouterOutputs } from '@keelson/client';
import type { AppRouter as ServerRouter } from '@keelson/trpc';
import type { inferRouterError, inferRouterInputs, inferRouterOutputs } from '@trpc/server';
import { describe, expectTypeOf, it } from 'vitest';

describe('AppRouter (public)', () => {
  it('has every procedure of the server with the same input and output', () => {
    expectTypeOf<RouterInputs>().toEqualTypeOf<inferRouterInputs<ServerRouter>>();
    expectTypeOf<RouterOutputs>().toEqualTypeOf<inferRouterOutputs<ServerRouter>>();
    expectTypeOf<keyof AppRouter['_def']['record']>().toEqualTypeOf<keyof ServerRouter['_def']['record']>();
  });

  it('keeps the error shape, transformer and meta, and erases the context', () => {
    expectTypeOf<inferRouterError<AppRouter>>().toEqualTypeOf<inferRouterError<ServerRouter>>();
    expectTypeOf<AppRouter['_def']['_config']['$types']['transformer']>().toEqualTypeOf<true>();
    expectTypeOf<AppRouter['_def']['_config']['$types']['ctx']>().toEqualTypeOf<object>();
  });

  it('is not any', () => {
    expectTypeOf<RouterOutputs['catalog']['list']>().not.toBeAny();
    expectTypeOf<RouterInputs['catalog']['list']>().not.toBeAny();
  });
});
