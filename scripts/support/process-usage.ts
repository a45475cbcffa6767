import { readdirSync, readFileSync } from 'node:fs';

/**
 * User + system CPU seconds and system calls (reads and writes, from /proc/<pid>/io) so far of every
 * process whose command line matches `pattern`, by pid. On this kind of machine (a VM with page-table
 * isolation) a socket write costs tens of µs, so the calls are counted beside the CPU they cost.
 */
export function usageByPid(
  pattern: RegExp,
): Map<number, { seconds: number; calls: number }> {
  const usage = new Map<number, { seconds: number; calls: number }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll(
        '\0',
        ' ',
      );
      if (!pattern.test(cmdline)) continue;
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const io = readFileSync(`/proc/${entry}/io`, 'utf8');
      const count = (name: string) =>
        Number(new RegExp(`^${name}: (\\d+)`, 'm').exec(io)?.[1] ?? 0);
      usage.set(Number(entry), {
        seconds: (Number(fields[11]) + Number(fields[12])) / 100,
        calls: count('syscr') + count('syscw'),
      });
    } catch {
      // It ended meanwhile.
    }
  }
  return usage;
}

const POSTGRES: [string, RegExp] = ['postgres', /^postgres/];

export const PROCESSES: [string, RegExp][] = [
  ['app', /dist\/main\.js/],
  POSTGRES,
  ['nats-server', /nats-server -a 127\.0\.0\.1 -p \d+ -js -sd \/tmp/],
];

/** The servers an HTTP benchmark's requests also cost: the app's database and its Redis. */
export const SERVER_PROCESSES: [string, RegExp][] = [
  POSTGRES,
  ['redis-server', /^(\S*\/)?redis-server /],
];

/** CPU ms and system calls each process kind spent while `work` ran. */
export async function usageDuring<T>(
  work: () => Promise<T>,
  processes = PROCESSES,
): Promise<[T, Record<string, { ms: number; calls: number }>]> {
  const before = processes.map(([, pattern]) => usageByPid(pattern));
  const result = await work();
  const spent: Record<string, { ms: number; calls: number }> = {};
  processes.forEach(([name, pattern], i) => {
    const total = { ms: 0, calls: 0 };
    for (const [pid, now] of usageByPid(pattern)) {
      const then = before[i].get(pid) ?? { seconds: 0, calls: 0 };
      total.ms += (now.seconds - then.seconds) * 1000;
      total.calls += now.calls - then.calls;
    }
    spent[name] = total;
  });
  return [result, spent];
}
