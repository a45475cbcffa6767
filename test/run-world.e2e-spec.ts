import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { RUN_DIR_PREFIX, removeLeftovers } from './support/run-world';
import { ADMIN_DATABASE_URL } from './support/test-env';

/**
 * What a killed test run leaves behind is removed by the next one, and what a live run owns is not:
 * its directory under the system's temporary one, a server still running from it, its databases.
 */
describe('a test run on a shared machine', () => {
  const systemTmp = mkdtempSync(join(tmpdir(), 'orders-leftovers-'));
  afterAll(() => rmSync(systemTmp, { recursive: true, force: true }));

  const sql = async (text: string) => {
    const admin = new Client({ connectionString: ADMIN_DATABASE_URL });
    await admin.connect();
    try {
      return (await admin.query<{ datname: string }>(text)).rows;
    } finally {
      await admin.end();
    }
  };

  it("removes a killed run's directory, the server it left running and its databases; a live run's stay", async () => {
    // A pid that does not exist (above the kernel's pid_max), and this process's, which does.
    const dead = 4_194_305;
    const deadDir = join(systemTmp, `${RUN_DIR_PREFIX}${dead}`);
    const liveDir = join(systemTmp, `${RUN_DIR_PREFIX}${process.pid}`);
    mkdirSync(deadDir);
    mkdirSync(liveDir);
    // A "server" started from the dead run's directory, as redis-server and nats-server are.
    const orphan = spawn('sleep', ['300', `${deadDir}/`], { stdio: 'ignore' });
    const orphanExited = new Promise((resolve) => orphan.once('exit', resolve));
    const deadDb = `orders_test_leftover_r${dead}_1`;
    const liveDb = `orders_test_leftover_r${process.pid}_1`;
    await sql(`CREATE DATABASE "${deadDb}"`);
    await sql(`CREATE DATABASE "${liveDb}"`);
    try {
      const removed = await removeLeftovers(ADMIN_DATABASE_URL, systemTmp);
      expect(removed).toEqual(expect.arrayContaining([deadDir, deadDb]));
      expect(removed).not.toContain(liveDir);
      expect(removed).not.toContain(liveDb);
      expect(existsSync(deadDir)).toBe(false);
      expect(existsSync(liveDir)).toBe(true);
      await orphanExited;
      const names = (await sql('SELECT datname FROM pg_database')).map(
        (row) => row.datname,
      );
      expect(names).not.toContain(deadDb);
      expect(names).toContain(liveDb);
    } finally {
      orphan.kill('SIGKILL');
      await sql(`DROP DATABASE IF EXISTS "${liveDb}"`);
      await sql(`DROP DATABASE IF EXISTS "${deadDb}"`);
    }
  });
});
