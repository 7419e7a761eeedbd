/**
 * One perftest run between a server and a client container through the
 * shim, on one host or across hosts. Suites parse what perftest printed
 * (bench/perftest-parse.ts); nothing here re-times it.
 */
import { runPair } from '../test/harness/apps.js';
import type { Container } from '../test/harness/netns.js';
import { describeOutput } from '../test/harness/proc.js';

/** Where the two sides run: containers and the router socket each talks to. */
export interface Placement {
  server: Container;
  client: Container;
  serverSocket: string;
  clientSocket: string;
  /** Router logs, appended to a failure's message. */
  logs?: () => string;
}

export interface PerftestOptions {
  /** perftest's TCP port for its out-of-band exchange; concurrent pairs need distinct ports. */
  port?: number;
  /** Bound for each side (default 180 s). */
  timeoutMs?: number;
}

/**
 * Runs `argv` (the server's command line; the client gets it plus the
 * server's address) and returns the client's stdout, which holds the result
 * table. Throws with both sides' output if either side fails.
 */
export async function perftest(p: Placement, argv: string[], o: PerftestOptions = {}): Promise<string> {
  const port = o.port ?? 18515;
  const r = await runPair({
    server: p.server, client: p.client, serverArgv: [...argv, '-p', String(port)], port,
    serverSocket: p.serverSocket, clientSocket: p.clientSocket, timeoutMs: o.timeoutMs ?? 180_000,
  });
  if (r.server.code !== 0 || r.client.code !== 0) {
    throw new Error(`${argv.join(' ')} failed:\nCLIENT\n${describeOutput(r.client)}\nSERVER\n${describeOutput(r.server)}${p.logs ? `\n${p.logs()}` : ''}`);
  }
  return r.client.stdout;
}
