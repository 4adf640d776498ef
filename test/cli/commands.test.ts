import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { commandName, COMMANDS } from '../../src/cli/commands/index.js';
import { nixlsimInProcess, ROOT } from '../helpers/cli.js';

describe('the command table main.ts registers the commands from', () => {
  it("holds every command module, with the module's own command string and description", async () => {
    const files = readdirSync(join(ROOT, 'src', 'cli', 'commands'))
      .filter((f) => f.endsWith('.ts') && f !== 'index.ts')
      .map((f) => f.slice(0, -'.ts'.length));
    expect(COMMANDS.map(commandName).sort()).toEqual(files.sort());
    for (const c of COMMANDS) {
      const m = await c.load();
      expect([m.command, m.describe], commandName(c)).toEqual([c.command, c.describe]);
    }
  });

  it('--help lists every command and its description without loading the commands', async () => {
    const r = await nixlsimInProcess(['--help']);
    expect(r.code).toBe(0);
    const flat = r.stdout.replace(/\s+/g, ' ');
    for (const c of COMMANDS) {
      expect(flat).toContain(`nixlsim ${c.command}`);
      expect(flat).toContain(c.describe.split(' ').slice(0, 6).join(' '));
    }
  });

  it("a command's --help shows its own flags, also after a global flag", async () => {
    const run = await nixlsimInProcess(['run', '--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('--workers');
    const list = await nixlsimInProcess(['--catalog', 'models', 'list', '--help']);
    expect(list.code).toBe(0);
    expect(list.stdout).toContain('--json');
  });

  it('a misspelt command is suggested from the table', async () => {
    const r = await nixlsimInProcess(['lst', 'models']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("nixlsim: error: unknown command 'lst'; did you mean 'list'? (`nixlsim --help` lists the commands, `nixlsim <command> --help` their flags)\n");
  });
});
