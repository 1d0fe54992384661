// Loaded with `node --import` before every entry point of the root scripts. Plain JavaScript, so that an
// older Node reaches it: it cannot load the .ts entry points and would fail with ERR_UNKNOWN_FILE_EXTENSION.
// `pnpm install` normally brings the project's own Node (package.json optionalDependencies), which every
// pnpm script runs on; this is for platforms the registry has no Node package for, or a skipped install.

/** The `engines.node` of the root package.json; a test keeps the two equal. */
export const REQUIRED = '^22.22.3 || >=24.11.1';

/** Whether `version` (e.g. "24.11.1") satisfies REQUIRED: type stripping across packages, and import-in-the-middle. */
export function supported(version) {
  const [major, minor, patch] = version.split('.').map(Number);
  const atLeast = (m, p) => minor > m || (minor === m && patch >= p);
  return (major === 22 && atLeast(22, 3)) || (major === 24 && atLeast(11, 1)) || major > 24;
}

/** The one line printed when this Node cannot run Keelson. */
export function problem(version, platform = process.platform, arch = process.arch) {
  if (supported(version)) return undefined;
  const bundled = ['linux-x64', 'linux-arm64', 'darwin-x64'].includes(`${platform}-${arch}`);
  const fix = bundled
    ? 'run `npx -y pnpm@10 install` (it brings Node 24 for this machine) and start it with pnpm'
    : 'install Node 24 (nvm install 24, fnm install 24, brew install node@24 or https://nodejs.org)';
  return `Keelson needs Node ${REQUIRED}; this is Node ${version}: ${fix}.`;
}

const line = problem(process.versions.node);
if (line) {
  console.error(line);
  process.exit(1);
}
