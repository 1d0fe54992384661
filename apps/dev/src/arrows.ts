/**
 * `pnpm check`'s dependency rules: which workspace package may import which. Reads every import of
 * every package's sources and tests (static, dynamic and `import type`) and fails on
 *
 * - a workspace package used but not declared in the importer's package.json (it resolves today only
 *   because pnpm links the whole workspace, and breaks the day the package is installed alone);
 * - a forbidden arrow (RULES below): the domain never reaches up to the router, the API or the worker,
 *   nor into tRPC or Fastify; the database layer knows no domain, and its tests start nothing above
 *   it; the errors catalogue knows no transport; the client takes only types from the router; the web
 *   app takes only the client.
 *
 * Usage: `node apps/dev/src/arrows.ts` (exits 1 with one line per violation).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));

interface Pkg {
  name: string;
  dir: string;
  declared: Set<string>;
}

/** The domain: business rules shared by the router and the worker. */
const DOMAIN = [
  '@keelson/catalog',
  '@keelson/orders',
  '@keelson/payments',
  '@keelson/auth',
  '@keelson/notifications',
  '@keelson/chat',
  '@keelson/analytics',
  '@keelson/reports',
  '@keelson/email',
  '@keelson/jobs',
];
const ABOVE_DOMAIN = ['@keelson/trpc', '@keelson/api', '@keelson/worker', '@keelson/client', '@trpc/server', 'fastify'];

interface Rule {
  /** Importers the rule applies to. */
  from: string[];
  /** Forbidden specifiers: a package name, a prefix ending in `/`, or `=` and one exact specifier. */
  forbid: string[];
  /** Packages the rule lets through although `forbid` covers them. */
  allow?: string[];
  why: string;
  /** Only production sources (tests may reach further, e.g. to start the API). Default false. */
  srcOnly?: boolean;
  /** Only tests. Default false. */
  testsOnly?: boolean;
  /** Only these files of the importer (paths inside its package). Default all. */
  files?: string[];
  /** Allowed when the import is type-only. */
  typesOnly?: boolean;
}

const RULES: Rule[] = [
  {
    from: DOMAIN,
    forbid: ABOVE_DOMAIN,
    srcOnly: true,
    why: 'domain packages are shared by the API and the worker: they know no router, server or transport',
  },
  {
    from: ['@keelson/db'],
    forbid: [...DOMAIN, ...ABOVE_DOMAIN, '@keelson/realtime'],
    srcOnly: true,
    why: 'the database layer (entities, migrations, seeds, test databases) knows no domain, realtime or transport',
  },
  {
    from: ['@keelson/realtime'],
    forbid: [...DOMAIN, ...ABOVE_DOMAIN],
    srcOnly: true,
    why: 'realtime (outbox, hub, guard) sits under the domain, which writes its events: it knows no domain and no transport',
  },
  {
    from: ['@keelson/services'],
    forbid: ABOVE_DOMAIN,
    srcOnly: true,
    why: 'the composition place builds the domain’s services for the API and the worker: it knows neither',
  },
  {
    from: ['@keelson/errors'],
    forbid: ['@keelson/', '@trpc/', 'fastify'],
    why: 'the error catalogue is the bottom of the graph: codes, statuses and messages only',
  },
  {
    from: ['@keelson/client'],
    forbid: ['@keelson/trpc'],
    srcOnly: true,
    typesOnly: true,
    why: 'the client ships to browsers: it takes the router’s types, never its code',
  },
  {
    from: ['@keelson/web'],
    forbid: ['@keelson/'],
    srcOnly: true,
    why: 'the web app is built on @keelson/client alone (it must build from the packed client too)',
  },
  {
    from: ['@keelson/db'],
    forbid: ['=@keelson/testing'],
    testsOnly: true,
    why: 'the database layer’s tests take @keelson/testing/database, which starts nothing above it',
  },
  {
    from: ['@keelson/testing'],
    files: ['src/database.ts', 'src/processes.ts', 'src/tcpProxy.ts'],
    forbid: ['@keelson/'],
    allow: ['@keelson/db'],
    why: 'the database helpers serve tests below the API: they import nothing of Keelson’s above @keelson/db',
  },
];
/** What each rule's `forbid` list does not cover for a given importer. */
const ALWAYS_ALLOWED: Record<string, string[]> = { '@keelson/web': ['@keelson/client'] };

function workspacePackages(root: string): Pkg[] {
  const out: Pkg[] = [];
  for (const group of ['apps', 'packages']) {
    let entries: string[];
    try {
      entries = readdirSync(path.join(root, group));
    } catch {
      continue;
    }
    for (const entry of entries) {
      const dir = path.join(root, group, entry);
      let manifest: { name?: string; dependencies?: object; devDependencies?: object; peerDependencies?: object };
      try {
        manifest = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
      } catch {
        continue;
      }
      if (!manifest.name) continue;
      const declared = new Set([
        ...Object.keys(manifest.dependencies ?? {}),
        ...Object.keys(manifest.devDependencies ?? {}),
        ...Object.keys(manifest.peerDependencies ?? {}),
      ]);
      out.push({ name: manifest.name, dir, declared });
    }
  }
  return out;
}

function sourceFiles(dir: string): string[] {
  const files: string[] = [];
  const walk = (d: string) => {
    for (const entry of readdirSync(d)) {
      if (entry === 'node_modules' || entry === 'dist' || entry.startsWith('.')) continue;
      const full = path.join(d, entry);
      if (statSync(full).isDirectory()) walk(full);
      else if (/\.(ts|tsx|mts)$/.test(entry) && !entry.endsWith('.d.ts')) files.push(full);
    }
  };
  for (const sub of ['src', 'test']) {
    try {
      walk(path.join(dir, sub));
    } catch {}
  }
  return files;
}

interface Import {
  specifier: string;
  typeOnly: boolean;
  line: number;
}

const IMPORT =
  /(?:^|\n)\s*(import|export)\s+(type\s+)?(?:[^'";]*?\s+from\s+)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

export function importsOf(text: string): Import[] {
  const found: Import[] = [];
  for (const m of text.matchAll(IMPORT)) {
    const specifier = m[3] ?? m[4];
    if (!specifier) continue;
    const before = text.slice(0, m.index ?? 0);
    found.push({
      specifier,
      typeOnly: Boolean(m[2]),
      line: before.split('\n').length + (m[0].startsWith('\n') ? 1 : 0),
    });
  }
  return found;
}

/** The package a specifier names (`@scope/name` or `name`), or null for relative and `node:` ones. */
const packageOf = (specifier: string): string | null => {
  if (specifier.startsWith('.') || specifier.startsWith('node:') || specifier.startsWith('/')) return null;
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? `${parts[0]}/${parts[1]}` : (parts[0] ?? null);
};

const matches = (specifier: string, forbidden: string) =>
  forbidden.startsWith('=')
    ? specifier === forbidden.slice(1)
    : forbidden.endsWith('/')
      ? specifier.startsWith(forbidden)
      : packageOf(specifier) === forbidden;

/** Every violation in the workspace at `root` (this repository by default), one line each. */
export function check(root = repoRoot): string[] {
  const packages = workspacePackages(root);
  const names = new Set(packages.map((p) => p.name));
  const problems: string[] = [];
  for (const pkg of packages) {
    for (const file of sourceFiles(pkg.dir)) {
      const rel = path.relative(root, file);
      const isTest = rel.split(path.sep).includes('test');
      const inPackage = path.relative(pkg.dir, file).split(path.sep).join('/');
      for (const imp of importsOf(readFileSync(file, 'utf8'))) {
        const target = packageOf(imp.specifier);
        if (!target || target === pkg.name) continue;
        if (names.has(target) && !pkg.declared.has(target)) {
          problems.push(`${rel}:${imp.line}: imports ${target}, which ${pkg.name}'s package.json does not declare`);
        }
        for (const rule of RULES) {
          if (!rule.from.includes(pkg.name) || (rule.srcOnly && isTest) || (rule.testsOnly && !isTest)) continue;
          if (rule.files && !rule.files.includes(inPackage)) continue;
          if (rule.typesOnly && imp.typeOnly) continue;
          if (ALWAYS_ALLOWED[pkg.name]?.includes(target) || rule.allow?.includes(target)) continue;
          if (rule.forbid.some((f) => matches(imp.specifier, f))) {
            problems.push(`${rel}:${imp.line}: ${pkg.name} must not import ${imp.specifier}: ${rule.why}`);
          }
        }
      }
    }
  }
  return problems;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const problems = check();
  for (const p of problems) console.error(p);
  if (problems.length) {
    console.error(`${problems.length} dependency rule violation(s) (apps/dev/src/arrows.ts)`);
    process.exit(1);
  }
  console.log('dependency rules: ok');
}
