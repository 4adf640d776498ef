import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { nixlsim, ROOT } from '../helpers/cli.js';

describe('nixlsim binary', () => {
  it('--version prints the package version', () => {
    const pkg = JSON.parse(readFileSync(`${ROOT}/package.json`, 'utf8')) as { version: string };
    const r = nixlsim(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(pkg.version);
  });

  it('--help lists the commands', () => {
    const r = nixlsim(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/quickstart/);
  });

  it('an unknown command exits 2 with one clear line and no stack trace', () => {
    const r = nixlsim(['frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^nixlsim: error: /);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('a bad flag value exits 2 naming the flag', () => {
    const r = nixlsim(['quickstart', '--customers', 'lots']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--customers must be a whole number/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('quickstart prints simulated and theoretical M/M/1 figures', () => {
    const r = nixlsim(['quickstart', '--customers', '20000']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/mean time in system W \(s\)\s+\d+\.\d+\s+10\.000/);
    expect(r.stdout).toMatch(/20,000 customers, 40,000 events/);
  });
});
