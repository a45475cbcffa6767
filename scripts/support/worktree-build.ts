import { execFileSync } from 'node:child_process';
import { rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';

/**
 * `ref` checked out in a temporary worktree and built (its dependencies installed with npm ci, or
 * this checkout's linked when its lock file is the same); `remove` deletes the worktree.
 */
export function prepareBuild(ref: string): {
  label: string;
  root: string;
  remove: () => void;
} {
  const git = (...args: string[]) =>
    execFileSync('git', args, { encoding: 'utf8' }).trim();
  const sha = git('rev-parse', '--short', `${ref}^{commit}`);
  const dir = join(os.tmpdir(), `orders-bench-${sha}-${process.pid}`);
  git('worktree', 'add', '--detach', dir, sha);
  const remove = () => {
    try {
      git('worktree', 'remove', '--force', dir);
    } catch {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  try {
    const sameLock =
      git('rev-parse', `${sha}:package-lock.json`) ===
      git('hash-object', 'package-lock.json');
    if (sameLock)
      symlinkSync(
        join(process.cwd(), 'node_modules'),
        join(dir, 'node_modules'),
      );
    else
      execFileSync('npm', ['ci', '--no-audit', '--no-fund'], {
        cwd: dir,
        stdio: 'ignore',
      });
    execFileSync('npm', ['run', 'build'], { cwd: dir, stdio: 'ignore' });
  } catch (error) {
    remove();
    throw error;
  }
  console.error(`built ${ref} (${sha}) in ${dir}`);
  return { label: sha, root: dir, remove };
}
