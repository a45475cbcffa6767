/**
 * Runs the README's Docker commands for real, under Podman, and checks what a user would: the stack
 * comes up healthy, the API works through the published ports, a retry through nginx replays on
 * another replica, an order survives a restart, and `down -v` leaves nothing behind.
 *
 *   npm run test:compose
 *
 * These machines have a Docker client but no engine and reach no container registry, so: Podman
 * serves Docker's API on a socket of its own (`podman system service`), `docker-compose` 1.29 drives
 * it (each `docker compose ...` below is run as `docker-compose ...`, same arguments), the base
 * images are local stand-ins (deploy/local-images/build.sh, test doubles of Docker Hub's), and the
 * app image is built from the real Dockerfile. Podman runs no health checks on its own without
 * systemd, so this script runs them (`podman healthcheck run`), as Docker's engine would.
 * Every step's failure names the step; the run is bounded (a step has minutes at most) and cleans up.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Webhook } from 'standardwebhooks';
import { alive } from '../test/support/run-world.ts';

/** The README's commands, verbatim; the first step checks that the README holds each one. */
export const README_COMMANDS = {
  // Every compose command renders the file, which refuses to without the secret: it is exported once.
  secret: 'export JWT_SECRET=$(openssl rand -hex 32)',
  up: 'docker compose up -d',
  token: 'docker compose exec -T app node scripts/token.js alice',
  scale: 'docker compose --profile scale up -d',
  restart: 'docker compose restart app',
  down: 'docker compose --profile scale down -v',
  ha: 'DATABASE_HOST=haproxy DATABASE_PORT=5000 docker compose --profile ha up -d',
  haDown: 'docker compose --profile ha down -v',
} as const;

/**
 * This run's own world, so that two checkouts on one machine can run it at once: a compose project,
 * an app image tag and host ports of its own (the compose file reads APP_PORT, NGINX_PORT and
 * APP_IMAGE, defaulting to the README's 3000, 8080 and orders-app:local, so its commands stay as
 * written).
 */
const PROJECT = `orders-smoke-${process.pid}`;
const IMAGE = `orders-app:smoke-${process.pid}`;
/** Chosen by main() before the first step: free ports on this machine. */
let APP_PORT = 0;
let APP = '';
let NGINX = '';
const CONTAINERS_CONF = '/etc/containers/containers.conf';
/** Podman's default ulimits exceed what these machines allow (runc: "error setting rlimit"). */
const ULIMITS = `[containers]\ndefault_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]\n`;

const socket = join(tmpdir(), `orders-podman-${process.pid}.sock`);
const jwtSecret = randomBytes(32).toString('hex');
const webhookSecret = `whsec_${randomBytes(24).toString('base64')}`;
const env = {
  ...process.env,
  DOCKER_HOST: `unix://${socket}`,
  COMPOSE_PROJECT_NAME: PROJECT,
  APP_IMAGE: IMAGE,
  JWT_SECRET: jwtSecret,
  PAYMENT_WEBHOOK_SECRETS: webhookSecret,
};

class StepFailed extends Error {}

/** Ports free on 127.0.0.1 now, each bound once by the kernel's choice and released. */
async function freePorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  for (let i = 0; i < count; i++)
    ports.push(
      await new Promise<number>((resolve, reject) => {
        const server = createServer();
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => {
          const { port } = server.address() as { port: number };
          server.close(() => resolve(port));
        });
      }),
    );
  return ports;
}

function run(
  command: string,
  args: string[],
  timeoutMs = 300_000,
  extraEnv: Record<string, string> = {},
): { stdout: string; stderr: string } {
  const result = spawnSync(command, args, {
    env: { ...env, ...extraEnv },
    encoding: 'utf8',
    timeout: timeoutMs,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.status !== 0)
    throw new StepFailed(
      `${command} ${args.join(' ')} exited ${result.status ?? result.signal}: ${(result.stderr || result.stdout).slice(-2000)}`,
    );
  return { stdout: result.stdout, stderr: result.stderr };
}

/**
 * `docker compose <args>` as the README writes it, run through docker-compose 1.29, with the
 * variables the command sets first (`NAME=value docker compose ...`).
 */
function compose(readmeCommand: string, timeoutMs?: number): string {
  const words = readmeCommand.split(' ');
  const assigned: Record<string, string> = {};
  while (/^[A-Z_]+=/.test(words[0])) {
    const [name, value] = words.shift()!.split('=');
    assigned[name] = value;
  }
  const args = words
    .join(' ')
    .replace(/^docker compose /, '')
    .split(' ');
  return run('docker-compose', args, timeoutMs, assigned).stdout;
}

function podman(...args: string[]): string {
  return run('podman', args).stdout.trim();
}

function projectContainers(all = false): string[] {
  const out = podman(
    'ps',
    ...(all ? ['-a'] : []),
    '--filter',
    `label=com.docker.compose.project=${PROJECT}`,
    '--format',
    '{{.Names}}',
  );
  return out ? out.split('\n') : [];
}

/**
 * What Docker's engine does on its own: run each container's health check every couple of seconds.
 * A process of its own, since the steps block this one while docker-compose runs.
 */
function startHealthChecks(): () => void {
  const loop = spawn(
    'bash',
    [
      '-c',
      `while :; do for c in $(podman ps --filter label=com.docker.compose.project=${PROJECT} --format '{{.Names}}'); do
         timeout 10 podman healthcheck run "$c" >/dev/null 2>&1; done; sleep 2; done`,
    ],
    { env, stdio: 'ignore' },
  );
  return () => loop.kill();
}

async function until<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: Error | undefined;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error as Error;
    }
    await sleep(500);
  }
  throw new StepFailed(
    `${what} did not happen within ${timeoutMs / 1000} s${last ? ` (last: ${last.message})` : ''}`,
  );
}

interface Answer {
  status: number;
  headers: Headers;
  text: string;
}

async function http(
  base: string,
  method: string,
  path: string,
  options: {
    token?: string;
    key?: string;
    body?: string;
    headers?: Record<string, string>;
  } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.key) headers['idempotency-key'] = options.key;
  if (options.body) headers['content-type'] ??= 'application/json';
  const response = await fetch(`${base}${path}`, {
    method,
    headers,
    body: options.body,
    signal: AbortSignal.timeout(10_000),
  });
  return {
    status: response.status,
    headers: response.headers,
    text: await response.text(),
  };
}

function expectThat(condition: boolean, message: string): void {
  if (!condition) throw new StepFailed(message);
}

const ORDER_BODY = JSON.stringify({
  currency: 'USD',
  items: [{ sku: 'ABC-1', quantity: 2, unitPriceCents: 1999 }],
  note: 'compose smoke test',
});

/** POST /orders on the app's published port, as the smoke test's user, with `key`. */
function placeOrder(key: string): Promise<Answer> {
  return http(APP, 'POST', '/orders', {
    token: context.token,
    key,
    body: ORDER_BODY,
  });
}

interface Context {
  token: string;
  orderId: string;
}

const context: Partial<Context> = {};

const steps: [string, () => Promise<string | void>][] = [
  [
    'the README names the commands this test runs',
    () => {
      const readme = readFileSync('README.md', 'utf8');
      for (const command of Object.values(README_COMMANDS))
        expectThat(readme.includes(command), `README.md lacks: ${command}`);
      return Promise.resolve();
    },
  ],
  [
    'stand-in base images (deploy/local-images/build.sh)',
    () => {
      const out = run('bash', ['deploy/local-images/build.sh'], 900_000);
      return Promise.resolve(out.stdout.trim().split('\n').join('; '));
    },
  ],
  [
    'app image from the real Dockerfile',
    () => {
      // Podman's build containers reach the npm registry through the host's network only.
      run('podman', ['build', '--network=host', '-t', IMAGE, '.'], 900_000);
      // Docker's API names a short name docker.io/library/...: compose then finds it instead of building.
      podman('tag', `localhost/${IMAGE}`, `docker.io/library/${IMAGE}`);
      const bytes = Number(
        podman('image', 'inspect', '--format', '{{.Size}}', IMAGE),
      );
      return Promise.resolve(`${(bytes / 1024 / 1024).toFixed(0)} MiB`);
    },
  ],
  [
    `${README_COMMANDS.secret}; ${README_COMMANDS.up}, then healthy`,
    async () => {
      const started = Date.now();
      compose(README_COMMANDS.up, 600_000);
      await until(
        `GET /health answering 200 on :${APP_PORT}`,
        120_000,
        async () =>
          (await http(APP, 'GET', '/health')).status === 200 ? true : undefined,
      );
      return `ready ${((Date.now() - started) / 1000).toFixed(1)} s after up`;
    },
  ],
  [
    README_COMMANDS.token,
    () => {
      const token = compose(README_COMMANDS.token).trim();
      expectThat(
        /^[\w-]+\.[\w-]+\.[\w-]+$/.test(token),
        `not a JWT: ${token.slice(0, 80)}`,
      );
      context.token = token;
      return Promise.resolve();
    },
  ],
  [
    'create, replay (byte-identical), read, list',
    async () => {
      const token = context.token!;
      const key = randomUUID();
      const created = await placeOrder(key);
      expectThat(
        created.status === 201,
        `create: ${created.status} ${created.text}`,
      );
      const replay = await placeOrder(key);
      expectThat(replay.status === 201, `replay: ${replay.status}`);
      expectThat(replay.text === created.text, 'replay body differs');
      expectThat(
        replay.headers.get('idempotent-replayed') === 'true',
        'replay lacks Idempotent-Replayed: true',
      );
      const orderId = (JSON.parse(created.text) as { id: string }).id;
      const read = await http(APP, 'GET', `/orders/${orderId}`, { token });
      expectThat(read.status === 200, `read: ${read.status}`);
      const list = await http(APP, 'GET', '/orders?limit=5', { token });
      expectThat(
        list.status === 200 && list.text.includes(orderId),
        `list: ${list.status}`,
      );
      context.orderId = orderId;
    },
  ],
  [
    'a signed payment webhook pays the order',
    async () => {
      const id = `msg_${randomUUID()}`;
      const now = new Date();
      const body = JSON.stringify({
        type: 'payment.succeeded',
        timestamp: now.toISOString(),
        data: {
          paymentId: `pay_${randomUUID()}`,
          orderId: context.orderId,
          amountCents: 3998,
          currency: 'USD',
        },
      });
      const signature = new Webhook(webhookSecret).sign(id, now, body);
      const answer = await http(APP, 'POST', '/webhooks/payments', {
        body,
        headers: {
          'webhook-id': id,
          'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
          'webhook-signature': signature,
        },
      });
      expectThat(
        answer.status === 200 && answer.text.includes('"outcome":"paid"'),
        `webhook: ${answer.status} ${answer.text}`,
      );
    },
  ],
  [
    'order events reach JetStream (the nats service): the outbox drains',
    async () => {
      // The admin port listens inside the container only: read the app's metrics from there.
      const script =
        "fetch('http://127.0.0.1:9464/metrics').then((r) => r.text()).then((t) => console.log(t))";
      const counts = await until('the outbox drained to NATS', 60_000, () => {
        const text = run('docker-compose', [
          'exec',
          '-T',
          'app',
          'node',
          '-e',
          script,
        ]).stdout;
        const value = (name: string) =>
          Number(new RegExp(`^${name} (\\d+)`, 'm').exec(text)?.[1] ?? NaN);
        const published = value('orders_events_published_total');
        const pending = value('orders_events_pending');
        return Promise.resolve(
          published >= 2 && pending === 0 ? { published, pending } : undefined,
        );
      });
      return `${counts.published} events published, ${counts.pending} pending`;
    },
  ],
  [
    `${README_COMMANDS.scale}: a retry through nginx lands on another replica and replays`,
    async () => {
      compose(README_COMMANDS.scale, 600_000);
      const token = context.token!;
      const key = randomUUID();
      const send = (requestId: string) =>
        http(NGINX, 'POST', '/orders', {
          token,
          key,
          body: ORDER_BODY,
          headers: { 'x-request-id': requestId },
        });
      const first = await until(
        'nginx answering a create',
        120_000,
        async () => {
          const answer = await send(`smoke-first-${randomUUID()}`);
          return answer.status === 201 ? answer : undefined;
        },
      );
      const replicas = projectContainers().filter((name) =>
        name.includes('replica'),
      );
      expectThat(
        replicas.length === 2,
        `replicas running: ${replicas.join(', ')}`,
      );
      const firstId = first.headers.get('x-request-id') ?? '';
      // The app writes its request log in batches, flushed at least every second: wait for the line.
      const servedBy = (requestId: string) =>
        until(`a replica logging request ${requestId}`, 10_000, () =>
          Promise.resolve(
            replicas.find((name) => podman('logs', name).includes(requestId)),
          ),
        );
      const a = await servedBy(firstId);
      // nginx takes a replica that failed (still booting) out of rotation for 5 s: retry until the
      // round robin reaches the other one. Every retry must be the replay of the same order.
      let b: string | undefined;
      for (
        let attempt = 1;
        attempt <= 15 && (b === undefined || b === a);
        attempt++
      ) {
        const retryId = `smoke-retry-${randomUUID()}`;
        const retry = await send(retryId);
        expectThat(
          retry.status === 201 && retry.text === first.text,
          `retry ${attempt} is not the same order: ${retry.status}`,
        );
        expectThat(
          retry.headers.get('idempotent-replayed') === 'true',
          `retry ${attempt} through nginx is not a replay`,
        );
        b = await servedBy(retryId);
        if (b === a) await sleep(1000);
      }
      expectThat(b !== a, `every retry went to ${a}`);
      return `create on ${a}, replay on ${b}`;
    },
  ],
  [
    `${README_COMMANDS.restart}: the order is still there`,
    async () => {
      compose(README_COMMANDS.restart, 120_000);
      const read = await until(
        'the order read after the restart',
        120_000,
        async () => {
          const answer = await http(APP, 'GET', `/orders/${context.orderId}`, {
            token: context.token,
          });
          return answer.status === 200 ? answer : undefined;
        },
      );
      expectThat(
        read.text.includes('"status":"paid"'),
        `after restart: ${read.text}`,
      );
    },
  ],
  [
    `${README_COMMANDS.down}: nothing left running`,
    () => {
      compose(README_COMMANDS.down, 180_000);
      const left = projectContainers(true);
      expectThat(left.length === 0, `left behind: ${left.join(', ')}`);
      const volumes = podman('volume', 'ls', '--format', '{{.Name}}')
        .split('\n')
        .filter((name) => name.startsWith(PROJECT));
      expectThat(volumes.length === 0, `volumes left: ${volumes.join(', ')}`);
      return Promise.resolve();
    },
  ],
  ...haSteps(),
];

/**
 * The ha profile: the app on three Patroni nodes behind HAProxy, then the primary's container killed
 * (SIGKILL) while orders are placed: writes resume by themselves, the acknowledged order is there,
 * and its retry replays it.
 */
function haSteps(): [string, () => Promise<string | void>][] {
  return [
    [
      `${README_COMMANDS.ha}, then healthy`,
      async () => {
        const started = Date.now();
        // docker compose up builds an image only when it is missing: a changed recipe must rebuild.
        run('docker-compose', ['--profile', 'ha', 'build'], 900_000);
        compose(README_COMMANDS.ha, 600_000);
        await until(
          `GET /health/ready answering 200 on :${APP_PORT}`,
          480_000,
          async () =>
            (await http(APP, 'GET', '/health/ready')).status === 200
              ? true
              : undefined,
        );
        // The app exits when it starts before HAProxy has a primary; restart: on-failure brings it back.
        const app = projectContainers().find((name) => name.includes('_app_'));
        const restarts = app
          ? podman('inspect', '--format', '{{.RestartCount}}', app)
          : '?';
        return `ready ${((Date.now() - started) / 1000).toFixed(1)} s after up (image builds included), the app restarted ${restarts} times`;
      },
    ],
    [
      'the primary killed under writes: they resume by themselves, nothing acknowledged is lost',
      async () => {
        const key = randomUUID();
        const created = await placeOrder(key);
        expectThat(created.status === 201, `create: ${created.status}`);
        const members = JSON.parse(
          run('docker-compose', [
            '--profile',
            'ha',
            'exec',
            '-T',
            'pg1',
            'patronictl',
            '-c',
            '/etc/patroni.yml',
            'list',
            '-f',
            'json',
          ]).stdout,
        ) as { Member: string; Role: string }[];
        const leader = members.find((m) => m.Role === 'Leader')?.Member;
        expectThat(
          leader !== undefined,
          `no leader: ${JSON.stringify(members)}`,
        );
        const killedAt = Date.now();
        run('docker-compose', ['--profile', 'ha', 'kill', leader!]);
        const statuses = new Set<number>();
        await until(
          'a create answered 201 after the kill',
          120_000,
          async () => {
            const answer = await placeOrder(randomUUID()).catch(
              () => undefined,
            );
            if (answer) statuses.add(answer.status);
            return answer?.status === 201 ? true : undefined;
          },
        );
        const resumedMs = Date.now() - killedAt;
        expectThat(
          [...statuses].every((status) => status === 201 || status === 503),
          `answers during the failover: ${[...statuses].join(', ')}`,
        );
        const retry = await placeOrder(key);
        const id = (JSON.parse(created.text) as { id: string }).id;
        // After a failover the answer comes from the order row (the Redis entry's timeline is past).
        expectThat(
          retry.status === 201 && retry.text.includes(id),
          `the acknowledged order's retry after the failover: ${retry.status} ${retry.text}`,
        );
        const read = await http(APP, 'GET', `/orders/${id}`, {
          token: context.token,
        });
        expectThat(
          read.status === 200,
          `read after the failover: ${read.status}`,
        );
        return `${leader} killed; writes resumed after ${(resumedMs / 1000).toFixed(1)} s (answers: ${[...statuses].join(', ')})`;
      },
    ],
    [
      `${README_COMMANDS.haDown}: nothing left running`,
      () => {
        compose(README_COMMANDS.haDown, 180_000);
        const left = projectContainers(true);
        expectThat(left.length === 0, `left behind: ${left.join(', ')}`);
        return Promise.resolve();
      },
    ],
  ];
}

/**
 * crun, Podman's default runtime, refuses a host whose cgroups are hybrid (v1 controllers with v2
 * mounted at /sys/fs/cgroup/unified): "cgroups in hybrid mode not supported". runc runs there.
 */
const HYBRID_CGROUPS = '/sys/fs/cgroup/unified';
const RUNC = `[engine]\nruntime = "runc"\n`;

function configurePodman(): void {
  if (!existsSync(CONTAINERS_CONF)) writeFileSync(CONTAINERS_CONF, ULIMITS);
  const conf = readFileSync(CONTAINERS_CONF, 'utf8');
  if (!conf.includes('default_ulimits'))
    throw new StepFailed(
      `${CONTAINERS_CONF} has no default_ulimits: add ${JSON.stringify(ULIMITS)}`,
    );
  if (existsSync(HYBRID_CGROUPS) && !/^\[engine\]/m.test(conf))
    writeFileSync(CONTAINERS_CONF, `${conf.trimEnd()}\n\n${RUNC}`);
}

function startPodmanService(): ChildProcess {
  return spawn(
    'podman',
    ['system', 'service', '--time=0', `unix://${socket}`],
    {
      env,
      stdio: 'ignore',
    },
  );
}

/**
 * The quick start's `.env` (cp .env.example .env), in place as a user following the README has it:
 * compose reads it, and it must not change what the stack does. Created for the run when missing.
 */
function quickStartEnv(): () => void {
  if (existsSync('.env')) return () => undefined;
  copyFileSync('.env.example', '.env');
  return () => rmSync('.env', { force: true });
}

/** The run's app image, under both names it was given. */
function removeImage(): void {
  for (const name of [`localhost/${IMAGE}`, `docker.io/library/${IMAGE}`])
    spawnSync('podman', ['rmi', '-f', name], { env, stdio: 'ignore' });
}

/**
 * What an earlier run that was killed left behind (its containers, volumes and image, named after
 * its pid), removed before this one starts; a run still going is left alone.
 */
function removeLeftovers(): string[] {
  const projects = new Set(
    podman(
      'ps',
      '-a',
      '--filter',
      'label=com.docker.compose.project',
      '--format',
      '{{index .Labels "com.docker.compose.project"}}',
    )
      .split('\n')
      .filter((name) => /^orders-smoke(-\d+)?$/.test(name)),
  );
  const removed: string[] = [];
  for (const project of projects) {
    const pid = Number(project.split('-')[2]);
    if (pid && alive(pid)) continue;
    const containers = podman(
      'ps',
      '-a',
      '--filter',
      `label=com.docker.compose.project=${project}`,
      '--format',
      '{{.Names}}',
    ).split('\n');
    spawnSync('podman', ['rm', '-f', ...containers], { env, stdio: 'ignore' });
    const volumes = podman('volume', 'ls', '--format', '{{.Name}}')
      .split('\n')
      .filter((name) => name.startsWith(`${project}_`));
    if (volumes.length)
      spawnSync('podman', ['volume', 'rm', '-f', ...volumes], {
        env,
        stdio: 'ignore',
      });
    removed.push(project);
  }
  return removed;
}

async function main(): Promise<void> {
  const [appPort, nginxPort] = await freePorts(2);
  [APP_PORT, APP, NGINX] = [
    appPort,
    `http://127.0.0.1:${appPort}`,
    `http://127.0.0.1:${nginxPort}`,
  ];
  Object.assign(env, {
    APP_PORT: String(appPort),
    NGINX_PORT: String(nginxPort),
  });
  configurePodman();
  const leftovers = removeLeftovers();
  if (leftovers.length)
    console.log(`removed what killed runs left: ${leftovers.join(', ')}`);
  const removeEnv = quickStartEnv();
  const service = startPodmanService();
  await until('the Podman API socket', 30_000, () =>
    Promise.resolve(existsSync(socket) ? true : undefined),
  );
  const stopHealthChecks = startHealthChecks();
  const rows: string[] = [];
  let failed = false;
  try {
    for (const [name, step] of steps) {
      const started = Date.now();
      try {
        const detail = await step();
        const seconds = ((Date.now() - started) / 1000).toFixed(1);
        rows.push(`| ${name} | ok | ${seconds} s | ${detail ?? ''} |`);
        console.log(
          `ok   ${name} (${seconds} s)${detail ? `: ${detail}` : ''}`,
        );
      } catch (error) {
        failed = true;
        rows.push(`| ${name} | FAILED | | ${String(error)} |`);
        console.error(`FAIL ${name}: ${(error as Error).message}`);
        break;
      }
    }
  } finally {
    stopHealthChecks();
    removeEnv();
    if (failed) {
      // Leave nothing running for the next run, but show why first.
      spawnSync(
        'docker-compose',
        ['--profile', 'scale', '--profile', 'ha', 'logs', '--tail', '40'],
        {
          env,
          stdio: 'inherit',
          timeout: 60_000,
        },
      );
      spawnSync(
        'docker-compose',
        ['--profile', 'scale', '--profile', 'ha', 'down', '-v'],
        { env, stdio: 'ignore', timeout: 180_000 },
      );
    }
    removeImage();
    service.kill();
  }
  console.log(
    [
      '',
      '| step | result | time | detail |',
      '|---|---|---|---|',
      ...rows,
    ].join('\n'),
  );
  if (failed) process.exitCode = 1;
}

main().catch((error: unknown) => {
  console.error(`compose smoke test: ${String(error)}`);
  process.exitCode = 1;
});
