#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { Logger, LOG_LEVEL_NAMES } from './log.js';
import { OptionsError, readConfigFile, resolveOptions, type RouterOptions } from './options.js';
import { packageVersion } from './paths.js';
import { Router } from './router.js';

const USAGE = `usage: ffrouter [options]

  --config FILE          JSON config with the same keys (camelCase or kebab-case); flags win
  --socket PATH          control socket for the shims      (default /run/ffrouter/ffrouter.sock)
  --admin-socket PATH    admin API socket, mode 0600        (default /run/ffrouter/admin.sock)
  --metrics-port N       Prometheus port, 0 disables        (default 9464)
  --metrics-host HOST    Prometheus bind address            (default 127.0.0.1)
  --state-dir DIR        where containers.json lives        (default /var/lib/ffrouter)
  --idle-spin-us N       data-plane spin before sleeping    (default 200)
  --max-batch N          WRs per ring per data-plane sweep  (default 32)
  --chunk-kib N          pieces of large local WRITE/READ   (default 64)
  --dataplane-cpus LIST  CPUs for the data-plane thread, e.g. 3 or 2-3 (default: any)
  --log-level LEVEL      error | warn | info | debug        (default info)
  --host-name NAME       this router's name in the cluster  (default: the host name)
  --etcd URLS            comma-separated etcd endpoints; none = single host, embedded registry
  --etcd-prefix KEY      root of the router's etcd keys     (default /ffr/v1)
  --lease-ttl-s N        etcd lease TTL in seconds          (default 10)
  --peer-listen IP:PORT  peer transport listener (required with --etcd; port 0 picks one)
  --peer-advertise IP:PORT  address other routers dial     (default: --peer-listen)
  --peer-pool N          TCP connections per pair of routers (default 1)
  --help, --version
`;

function parseFlags(argv: string[]): { config?: string; flags: Record<string, unknown>; help: boolean; version: boolean } {
  const { values, positionals } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: true,
    options: {
      config: { type: 'string' },
      socket: { type: 'string' },
      'admin-socket': { type: 'string' },
      'metrics-port': { type: 'string' },
      'metrics-host': { type: 'string' },
      'state-dir': { type: 'string' },
      'idle-spin-us': { type: 'string' },
      'max-batch': { type: 'string' },
      'chunk-kib': { type: 'string' },
      'dataplane-cpus': { type: 'string' },
      'log-level': { type: 'string' },
      'host-name': { type: 'string' },
      etcd: { type: 'string' },
      'etcd-prefix': { type: 'string' },
      'lease-ttl-s': { type: 'string' },
      'peer-listen': { type: 'string' },
      'peer-advertise': { type: 'string' },
      'peer-pool': { type: 'string' },
      help: { type: 'boolean' },
      version: { type: 'boolean' },
    },
  });
  if (positionals.length) throw new OptionsError(`unexpected argument "${positionals[0]}"`);
  const { config, help, version, ...rest } = values;
  const flags: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(rest)) if (v !== undefined) flags[k] = v;
  return { config, flags, help: help === true, version: version === true };
}

async function main(): Promise<number> {
  let options: RouterOptions;
  try {
    const args = parseFlags(process.argv.slice(2));
    if (args.help) {
      process.stdout.write(USAGE);
      return 0;
    }
    if (args.version) {
      process.stdout.write(`ffrouter (freeflow-ts) ${packageVersion()}\n`);
      return 0;
    }
    options = resolveOptions(args.config ? readConfigFile(args.config) : {}, args.flags);
  } catch (err) {
    process.stderr.write(`ffrouter: ${(err as Error).message}\n${err instanceof OptionsError ? '' : USAGE}`);
    return 2;
  }

  const log = new Logger(LOG_LEVEL_NAMES[options.logLevel]);
  let router: Router;
  try {
    router = await Router.start(options, { logger: log });
  } catch (err) {
    log.error(`cannot start: ${(err as Error).message}`);
    return 1;
  }

  return await new Promise<number>((resolve) => {
    let signalled = false;
    const onSignal = (sig: NodeJS.Signals): void => {
      if (signalled) {
        log.warn(`${sig} again: exiting without a graceful stop`);
        process.exit(1);
      }
      signalled = true;
      log.info(`${sig}: stopping`);
      router.stop().then(
        () => resolve(0),
        (err: Error) => {
          log.error(`stop failed: ${err.message}`);
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`ffrouter: ${err.stack ?? err.message}\n`);
    process.exit(1);
  },
);
