/**
 * A small well-formedness check for the XML nixlsim writes (no XML parser is a dependency): one root element, tags
 * nested and closed in order, attributes quoted, `&` only in entities, no `<` in text or attribute values. Returns the
 * problems found; [] for a well-formed document.
 */
export function wellFormed(xml: string): string[] {
  const problems: string[] = [];
  const body = xml.replace(/^<\?xml[^?]*\?>\s*/, '');
  const entity = /&(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/g;
  const badText = (t: string) => /[<]/.test(t) || /&/.test(t.replace(entity, ''));
  const stack: string[] = [];
  let roots = 0;
  let i = 0;
  while (i < body.length) {
    const lt = body.indexOf('<', i);
    const text = body.slice(i, lt < 0 ? body.length : lt);
    if (badText(text)) problems.push(`bad text: ${text.slice(0, 40)}`);
    if (text.trim() && stack.length === 0) problems.push(`text outside the root: ${text.slice(0, 40)}`);
    if (lt < 0) break;
    const gt = body.indexOf('>', lt);
    if (gt < 0) {
      problems.push('unclosed tag');
      break;
    }
    const tag = body.slice(lt + 1, gt);
    i = gt + 1;
    const close = /^\/([A-Za-z_][\w.-]*)\s*$/.exec(tag);
    if (close) {
      const open = stack.pop();
      if (open !== close[1]) problems.push(`</${close[1]}> closes <${open ?? 'nothing'}>`);
      continue;
    }
    const m = /^([A-Za-z_][\w.-]*)((?:\s+[A-Za-z_][\w.-]*="[^"]*")*)\s*(\/?)$/.exec(tag);
    if (!m) {
      problems.push(`bad tag: <${tag.slice(0, 60)}>`);
      continue;
    }
    for (const [, value] of m[2]!.matchAll(/="([^"]*)"/g)) if (badText(value!)) problems.push(`bad attribute value: ${value}`);
    if (stack.length === 0) roots++;
    if (m[3] !== '/') stack.push(m[1]!);
  }
  if (stack.length) problems.push(`unclosed: ${stack.join(' > ')}`);
  if (roots !== 1) problems.push(`${roots} root elements`);
  return problems;
}
