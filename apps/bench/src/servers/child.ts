/**
 * Plumbing shared by the two server processes, so that they differ only in how they answer a request.
 * The parent passes `<database-url> <pool-max>` as arguments and reads the port from the first stdout line.
 */
export function serverArgs(): { databaseUrl: string; poolMax: number } {
  const [databaseUrl, poolMax] = process.argv.slice(2);
  if (!databaseUrl || !poolMax || !(Number(poolMax) > 0))
    throw new Error('usage: <server>.ts <database-url> <pool-max>');
  return { databaseUrl, poolMax: Number(poolMax) };
}

/** Tells the parent the port, then stops on SIGTERM or when the parent is gone (its end of stdin closes). */
export function announce(port: number, stop: () => Promise<void>): void {
  let stopping = false;
  const shutdown = () => {
    if (stopping) return;
    stopping = true;
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(err);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  // A parent that crashed or was killed cannot send SIGTERM; without this the server would outlive it.
  process.stdin.on('close', shutdown);
  process.stdin.resume();
  process.stdout.write(`${JSON.stringify({ port })}\n`);
}
