/**
 * `AppRouter` as a frontend sees it: every procedure with its input, output and error shape, without the
 * server's context. The server's own router type carries its context (`_def._config.$types.ctx`: the ORM,
 * the realtime hub, the logger...), whose declarations would pull MikroORM, Fastify and the rest into a
 * frontend's type-check; a client never sees ctx, so it is `object` here.
 *
 * Types only: `index.ts` re-exports with `export type`, so this module never runs.
 */
import type { AppRouter as ServerRouter } from '@keelson/trpc';
import type {
  AnyTRPCProcedure,
  AnyTRPCRouter,
  TRPCBuiltRouter,
  TRPCMutationProcedure,
  TRPCQueryProcedure,
  TRPCSubscriptionProcedure,
} from '@trpc/server';

// Every alias below is a conditional type: once resolved it leaves an anonymous type behind, which declaration
// emit writes out in full instead of naming the server types it came from (and the bundle can then leave
// @keelson/trpc out). A plain alias would be kept by name, along with everything it names.

/** Plain data all the way down: interfaces of the server (FieldIssue) become object types. */
type Plain<T> = T extends object ? { [K in keyof T]: Plain<T[K]> } : T;

type ErrorShapeOf<R extends AnyTRPCRouter> = R extends unknown
  ? Plain<R['_def']['_config']['$types']['errorShape']>
  : never;

/** A procedure's types as the client reads them, with the error shape above. */
type PublicDef<P extends AnyTRPCProcedure, E> = P extends unknown
  ? { input: P['_def']['$types']['input']; output: P['_def']['$types']['output']; meta: P['meta']; errorShape: E }
  : never;

type PublicProcedure<P extends AnyTRPCProcedure, E> = P extends unknown
  ? {
      query: TRPCQueryProcedure<PublicDef<P, E>>;
      mutation: TRPCMutationProcedure<PublicDef<P, E>>;
      subscription: TRPCSubscriptionProcedure<PublicDef<P, E>>;
    }[P['_def']['type']]
  : never;

type PublicRecord<T, E> = T extends unknown
  ? { [K in keyof T]: T[K] extends AnyTRPCProcedure ? PublicProcedure<T[K], E> : PublicRecord<T[K], E> }
  : never;

type PublicRoot<R extends AnyTRPCRouter> = R extends unknown
  ? {
      ctx: object;
      meta: R['_def']['_config']['$types']['meta'];
      errorShape: ErrorShapeOf<R>;
      transformer: R['_def']['_config']['$types']['transformer'];
    }
  : never;

declare function publicRouter<R extends AnyTRPCRouter>(
  router: R,
): TRPCBuiltRouter<PublicRoot<R>, PublicRecord<R['_def']['record'], ErrorShapeOf<R>>>;
declare const serverRouter: ServerRouter;

// The inferred type of a value is what declaration emit writes out; a type alias would be copied as written.
const router = publicRouter(serverRouter);

export type AppRouter = typeof router;
