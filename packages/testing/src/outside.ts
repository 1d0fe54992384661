/**
 * Commands run in a scratch project outside the workspace (the packed client's tests), as a frontend's
 * own machine would run them: without NODE_PATH, which pnpm's bin shims (vitest's included) point at
 * the workspace's node_modules/.pnpm/node_modules, where Node would find every package of the workspace;
 * and without what pnpm passes to its scripts (npm_config_*).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Debian's (and most distributions') bundle of the CAs the machine trusts. */
const SYSTEM_CAS = '/etc/ssl/certs/ca-certificates.crt';

export const outsideEnv: Record<string, string | undefined> = {
  // npm runs on the project's own Node (first on PATH), whose bundled CAs are not the machine's: where
  // the machine trusts more (a TLS-inspecting proxy's CA), npm under Debian's Node succeeds while it
  // would fail every fetch with SELF_SIGNED_CERT_IN_CHAIN and retry until killed. Trust what the machine trusts.
  ...(existsSync(SYSTEM_CAS) ? { NODE_EXTRA_CA_CERTS: SYSTEM_CAS } : {}),
  ...Object.fromEntries(
    Object.entries(process.env).filter(
      ([k]) => !/^(npm_|pnpm_)/i.test(k) && !['NODE_PATH', 'NODE_OPTIONS'].includes(k),
    ),
  ),
};

/** Runs `cmd`; rejects with its whole output when it fails. */
export async function runOutside(cmd: string, args: string[], opts: { cwd: string; timeoutMs?: number }) {
  try {
    return await run(cmd, args, {
      cwd: opts.cwd,
      env: outsideEnv,
      timeout: opts.timeoutMs ?? 60_000,
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (err) {
    const e = err as Error & { stdout?: string; stderr?: string };
    throw new Error(`${cmd} ${args.join(' ')} failed in ${opts.cwd}:\n${e.stdout ?? ''}\n${e.stderr ?? ''}`, {
      cause: err,
    });
  }
}

/** Like `runOutside`, but resolves with the exit code and output however the command ends. */
export async function runOutsideResult(
  cmd: string,
  args: string[],
  cwd: string,
): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await run(cmd, args, { cwd, env: outsideEnv, timeout: 60_000 });
    return { code: 0, output: `${stdout}${stderr}` };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}
