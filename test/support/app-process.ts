import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** The production build (`dist/main.js`, built by `npm test`) running as its own OS process. */
export interface AppProcess {
  url: string;
  /** Its admin port (GET /metrics). */
  adminUrl: string;
  child: ChildProcess;
  exited: Promise<Exit>;
  /** Everything the process printed so far (for assertion messages). */
  output(): string;
  /** Sends `signal` and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<Exit>;
}

/**
 * The project root: Jest and every npm script run from it. (Not `__dirname`: scripts/bench.ts loads this
 * file as an ES module, through Node's type stripping.)
 */
const ROOT = process.cwd();
const MAIN = join(ROOT, 'dist', 'main.js');
/** The tail of an instance's output kept for assertion messages: bounded under any load. */
const OUTPUT_KEPT = 1 << 20;

/** The V8 flags of `npm run start:prod` (and the Dockerfile), read from package.json: one source. */
export function productionNodeFlags(root = ROOT): string[] {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  };
  return pkg.scripts['start:prod']
    .split(/\s+/)
    .filter((word) => word.startsWith('--'));
}

/**
 * The environment the measuring scripts (bench, growth, soak, capacity) start the production build
 * with: a fresh database migrated at start-up, its own Redis database, its own JWT secret, and the
 * rate limit lifted (one scripted user sends far more than a real one may; the limiter still runs).
 */
export function measuredAppEnv(options: {
  databaseUrl: string;
  redisUrl: string;
  jwtSecret: string;
}): Record<string, string> {
  return {
    NODE_ENV: 'production',
    DATABASE_URL: options.databaseUrl,
    DB_MIGRATIONS_RUN: 'true',
    REDIS_URL: options.redisUrl,
    JWT_SECRET: options.jwtSecret,
    THROTTLE_LIMIT: '1000000000',
    WEBHOOK_THROTTLE_LIMIT: '1000000000',
    HEALTH_THROTTLE_LIMIT: '1000000000',
  };
}

/**
 * Ports the tests' own servers listen on are chosen below the kernel's ephemeral range (32768 and up
 * here), where the sockets that listen on port 0 and every outgoing connection take theirs, and each
 * Jest worker has a slice of its own: a port handed to an instance that takes seconds to bind it
 * cannot be taken meanwhile by a proxy or another worker's instance (it was, once in a hunt's run).
 */
const PORT_BASE = 20_000;
const PORT_SLICE = 3_000;
const portSlice = Number(process.env.JEST_WORKER_ID ?? 0) % 4;
let nextPort = Math.floor(Math.random() * PORT_SLICE);

/** Whether a server can listen on `port` of 127.0.0.1 now. */
export function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < PORT_SLICE; attempt++) {
    const port = PORT_BASE + portSlice * PORT_SLICE + (nextPort++ % PORT_SLICE);
    if (await bindable(port)) return port;
  }
  throw new Error("no free port in this worker's slice");
}

/** Starts one instance on the run's database and Redis and resolves once it answers /health/live. */
export async function startAppProcess(
  env: Record<string, string> = {},
  options: StartOptions = {},
): Promise<AppProcess> {
  // A port that something outside the slices took between the check and the bind: new ports.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(env, options);
    } catch (error) {
      if (attempt === 3 || !(error instanceof PortTakenError)) throw error;
    }
  }
}

interface StartOptions {
  nodeFlags?: string[];
  /** Another build's entry point (bench --against); default this checkout's dist/main.js. */
  main?: string;
  /** Drop stdout (a benchmark's request log), keeping only stderr for messages. */
  discardStdout?: boolean;
}

class PortTakenError extends Error {}

/**
 * Instances this process started and that still run. A script or test process that dies by an
 * uncaught error never reaches its clean-up; its instances must not outlive it (a test:ha run that
 * crashed once left three retrying against a database that was gone), so they are killed as it exits.
 */
const liveInstances = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of liveInstances) child.kill('SIGKILL');
});

async function startOnce(
  env: Record<string, string>,
  options: StartOptions,
): Promise<AppProcess> {
  const port = await freePort();
  const adminPort = await freePort();
  const child = spawn(
    process.execPath,
    [...(options.nodeFlags ?? []), options.main ?? MAIN],
    {
      env: {
        PATH: process.env.PATH,
        NODE_ENV: 'test',
        HOST: '127.0.0.1',
        PORT: String(port),
        ADMIN_PORT: String(adminPort),
        DATABASE_URL: process.env.DATABASE_URL,
        DB_MIGRATIONS_RUN: 'false',
        // A new Postgres connection on a starved machine (the flake hunt's, a core hogged beside the
        // chaos run) took over the 3 s default, and an instance failed its start-up. Tests that prove
        // the timeout, or cut Postgres, set their own.
        DB_CONNECT_TIMEOUT_MS: '15000',
        REDIS_URL: process.env.REDIS_URL,
        JWT_SECRET: process.env.JWT_SECRET,
        THROTTLE_LIMIT: process.env.THROTTLE_LIMIT,
        WEBHOOK_THROTTLE_LIMIT: process.env.WEBHOOK_THROTTLE_LIMIT,
        HEALTH_THROTTLE_LIMIT: process.env.HEALTH_THROTTLE_LIMIT,
        ...env,
      },
      stdio: ['ignore', options.discardStdout ? 'ignore' : 'pipe', 'pipe'],
    },
  );
  let output = '';
  const keep = (chunk: Buffer) => {
    output += chunk.toString();
    if (output.length > 2 * OUTPUT_KEPT) output = output.slice(-OUTPUT_KEPT);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  liveInstances.add(child);
  child.once('exit', () => liveInstances.delete(child));
  let stopping = false;
  const exited = new Promise<Exit>((resolve) =>
    child.once('exit', (code, signal) => {
      // An instance that dies on its own while a test uses it says why in the test log.
      if (!stopping && signal !== 'SIGKILL' && code !== 0)
        console.error(
          `app on port ${port} exited by itself (code ${code}, signal ${signal}):\n${output.slice(-4000)}`,
        );
      resolve({ code, signal });
    }),
  );
  const url = `http://127.0.0.1:${port}`;
  const app: AppProcess = {
    url,
    adminUrl: `http://127.0.0.1:${adminPort}`,
    child,
    exited,
    output: () => output,
    stop: (signal = 'SIGTERM') => {
      stopping = true;
      if (child.exitCode === null && child.signalCode === null)
        child.kill(signal);
      return exited;
    },
  };
  // Generous: three instances booting at once beside three Jest workers and a hogged core took over
  // 20 s once. A start that fails says so sooner (the process exits).
  const deadline = Date.now() + 45_000;
  let running = true;
  void exited.then(() => (running = false));
  while (running && Date.now() < deadline) {
    const live = await fetch(`${url}/health/live`).catch(() => undefined);
    if (live?.ok) return app;
    await sleep(100);
  }
  await app.stop('SIGKILL');
  if (output.includes('EADDRINUSE')) throw new PortTakenError(output);
  throw new Error(`the app did not start on ${url}:\n${output}`);
}
