/**
 * The `nixlsim` command lines shown in README.md, docs/*.md and experiments/README.md: every line of a shell code
 * block (```sh, ```bash, ```console or an unnamed fence) that starts with `nixlsim` or `npx nixlsim`, optionally after
 * `VAR=value` assignments or inside a one-line `for x in a b; do ...; done`. Continuation lines (a trailing `\`) are
 * joined; a `# comment` and a `> file` redirect are dropped; words are split as a POSIX shell splits them (quotes,
 * backslashes), and a word with `*` is a glob, expanded when the command runs.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface DocCommand {
  /** Where it is shown: `docs/ci.md:12`. */
  where: string;
  /** The arguments after `nixlsim`. */
  args: string[];
  /** Environment assignments written before the command. */
  env: Record<string, string>;
}

const SHELL_FENCES = new Set(['sh', 'bash', 'shell', 'console', '']);

/** Splits a shell line into words: quotes and backslashes as sh treats them, an unquoted `#` starting a comment. */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new Error(`unclosed ' in: ${line}`);
      cur += line.slice(i + 1, end);
      i = end;
      inWord = true;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < line.length && line[j] !== '"'; j++) {
        if (line[j] === '\\' && j + 1 < line.length) j++;
        cur += line[j];
      }
      if (j >= line.length) throw new Error(`unclosed " in: ${line}`);
      i = j;
      inWord = true;
    } else if (c === '\\' && i + 1 < line.length) {
      cur += line[++i];
      inWord = true;
    } else if (c === ' ' || c === '\t') {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else if (c === '#' && !inWord) {
      break;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (inWord) words.push(cur);
  return words;
}

/** The commands of one line's words (a for loop gives one per value), or none when it is not a nixlsim line. */
function commandsOf(words: string[], where: string): DocCommand[] {
  const loop = words[0] === 'for' && words[2] === 'in' ? words : undefined;
  if (loop) {
    const doAt = loop.findIndex((w) => w === 'do' || w.endsWith(';') && loop[loop.indexOf(w) + 1] === 'do');
    const values: string[] = [];
    let k = 3;
    for (; k < loop.length && loop[k] !== 'do'; k++) values.push(loop[k]!.replace(/;$/, ''));
    if (doAt < 0 || k >= loop.length) return [];
    const body = loop.slice(k + 1);
    const end = body.findIndex((w) => w === 'done' || w === ';done');
    const inner = (end < 0 ? body : body.slice(0, end)).map((w) => w.replace(/;$/, ''));
    const name = loop[1]!;
    return values.filter((v) => v !== '').flatMap((v) => commandsOf(inner.map((w) => w.replaceAll(`$${name}`, v).replaceAll(`\${${name}}`, v)), where));
  }
  const env: Record<string, string> = {};
  let i = 0;
  for (; i < words.length && /^[A-Z_][A-Z0-9_]*=/.test(words[i]!); i++) {
    const [k, ...v] = words[i]!.split('=');
    env[k!] = v.join('=');
  }
  if (words[i] === 'npx') i++;
  if (words[i] !== 'nixlsim') return [];
  const args: string[] = [];
  for (let j = i + 1; j < words.length; j++) {
    if (words[j] === '>' || words[j] === '2>') {
      j++; // the redirect's file
      continue;
    }
    args.push(words[j]!);
  }
  return [{ where, args, env }];
}

/** The nixlsim commands shown in one Markdown file (path relative to root), in order. */
export function docCommands(root: string, file: string): DocCommand[] {
  const lines = readFileSync(join(root, file), 'utf8').split('\n');
  const out: DocCommand[] = [];
  let fence: string | undefined;
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]!;
    const m = /^\s*```\s*([\w-]*)/.exec(line);
    if (m) {
      fence = fence === undefined ? m[1]! : undefined;
      continue;
    }
    if (fence === undefined || !SHELL_FENCES.has(fence)) continue;
    let text = line;
    const first = n;
    while (text.endsWith('\\') && n + 1 < lines.length) text = `${text.slice(0, -1)} ${lines[++n]!.trim()}`;
    if (!/^\s*(for |[A-Z_]+=|npx nixlsim|nixlsim)/.test(text)) continue;
    out.push(...commandsOf(shellWords(text.trim()), `${file}:${first + 1}`));
  }
  return out;
}

/** Every Markdown file whose commands are held to running: the README, docs/ and experiments/README.md. */
export function documentedFiles(root: string): string[] {
  const docs = readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`);
  return ['README.md', ...docs, 'experiments/README.md'];
}
