/**
 * JUnit XML for CI systems that show test results (GitLab, Jenkins, GitHub test reporters): `nixlsim check --junit`
 * writes one testsuite per experiment and one testcase per point and metric, a failure carrying the reason. The
 * common dialect (testsuites > testsuite > testcase > failure|skipped) that every reader accepts.
 */

export interface JunitCase {
  /** Shown as the test's name. */
  name: string;
  /** Groups cases within a suite; readers show it as the "class". */
  classname: string;
  failure?: { type: string; message: string; detail?: string };
  /** Why the case did not count (e.g. a baseline accepted by --update). */
  skipped?: string;
}

export interface JunitSuite {
  name: string;
  cases: JunitCase[];
  /** Seconds the suite took. */
  timeS?: number;
}

/** Characters XML 1.0 cannot carry at all (most C0 controls, lone surrogates, U+FFFE/FFFF) are dropped. */
const INVALID = /[^\u0009\u000A\u000D\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

/** Text safe in an attribute value or element content. */
export function xmlEscape(s: string): string {
  return s
    .replace(INVALID, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;')
    .replace(/\n/g, '&#10;')
    .replace(/\r/g, '&#13;')
    .replace(/\t/g, '&#9;');
}

/** Element content keeps its line breaks. */
function textEscape(s: string): string {
  return s.replace(INVALID, '').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

const attrs = (a: Record<string, string | number>): string =>
  Object.entries(a)
    .map(([k, v]) => ` ${k}="${xmlEscape(String(v))}"`)
    .join('');

export function junitXml(suites: JunitSuite[], name = 'nixlsim check'): string {
  const count = (s: JunitSuite, f: (c: JunitCase) => boolean) => s.cases.filter(f).length;
  const total = (f: (c: JunitCase) => boolean) => suites.reduce((n, s) => n + count(s, f), 0);
  const all = () => true;
  const failed = (c: JunitCase) => c.failure !== undefined;
  const skipped = (c: JunitCase) => c.skipped !== undefined && c.failure === undefined;
  const time = suites.reduce((t, s) => t + (s.timeS ?? 0), 0);
  const lines = ['<?xml version="1.0" encoding="UTF-8"?>', `<testsuites${attrs({ name, tests: total(all), failures: total(failed), errors: 0, skipped: total(skipped), time: time.toFixed(3) })}>`];
  for (const s of suites) {
    lines.push(`  <testsuite${attrs({ name: s.name, tests: count(s, all), failures: count(s, failed), errors: 0, skipped: count(s, skipped), time: (s.timeS ?? 0).toFixed(3) })}>`);
    for (const c of s.cases) {
      const head = `    <testcase${attrs({ name: c.name, classname: c.classname, time: '0' })}`;
      if (c.failure) {
        lines.push(`${head}>`);
        lines.push(`      <failure${attrs({ type: c.failure.type, message: c.failure.message })}>${textEscape(c.failure.detail ?? c.failure.message)}</failure>`);
        lines.push('    </testcase>');
      } else if (c.skipped !== undefined) {
        lines.push(`${head}>`, `      <skipped${attrs({ message: c.skipped })}/>`, '    </testcase>');
      } else {
        lines.push(`${head}/>`);
      }
    }
    lines.push('  </testsuite>');
  }
  lines.push('</testsuites>');
  return `${lines.join('\n')}\n`;
}
