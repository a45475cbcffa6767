/** One series of the app's Prometheus text, from its admin port (0 when absent). */
export async function readMetric(
  adminUrl: string,
  series: string,
): Promise<number> {
  const text = await (await fetch(`${adminUrl}/metrics`)).text();
  const line = text
    .split('\n')
    .find((candidate) => candidate.startsWith(`${series} `));
  return line ? Number(line.split(' ')[1]) : 0;
}

export const MiB = 1024 * 1024;
