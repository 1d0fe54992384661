import { defineConfig } from 'tsdown';

/**
 * The published package: ESM for browsers and Node, and one declaration bundle.
 *
 * Declarations: TypeScript 7 has no JS compiler API, so rollup-plugin-dts, api-extractor and
 * rolldown-plugin-dts's `tsc` generator cannot run. Its `tsgo` generator on TypeScript 7.0 runs the `tsc`
 * CLI of the workspace's own TypeScript (`--emitDeclarationOnly` into a temp dir) and only bundles the
 * output, parsed with oxc: the declarations are the compiler's own, from the same version `pnpm check` uses.
 * rolldown-plugin-dts warns that this backend goes away in its next minor: upgrade it together with
 * TypeScript 7.1, whose API it uses then.
 */
export default defineConfig({
  entry: ['src/index.ts'],
  format: 'esm',
  platform: 'neutral',
  target: 'es2022',
  tsconfig: 'tsconfig.build.json',
  dts: { generator: 'tsgo' },
  deps: {
    // What a frontend installs with the client, and nothing else: a server package (@keelson/*, MikroORM,
    // Fastify, ...) reaching the JS or the declarations fails the build.
    onlyImport: ['@trpc/client', '@trpc/server', 'eventsource', 'superjson'],
  },
});
