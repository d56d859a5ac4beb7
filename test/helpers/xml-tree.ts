/**
 * A strict reader of well-formed XML 1.0, for tests of the XML we write: it throws on anything a
 * conforming parser rejects (a raw `<` or `&` in text or an attribute, a quote inside a value, a
 * character XML cannot hold, a duplicate attribute, mismatched or unclosed tags, more than one root),
 * and decodes the references, so a test can compare text round trip. Comments, CDATA, DTDs and
 * processing instructions other than the declaration are refused: our output has none.
 */
export interface XmlElement {
  name: string;
  attributes: Record<string, string>;
  children: XmlElement[];
  /** The element's own text, references decoded (children's text not included). */
  text: string;
}

const NOT_XML_CHARACTER = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;
const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decode(raw: string, at: number): string {
  if (raw.includes('<')) throw new Error(`'<' not allowed here (near ${at})`);
  return raw.replace(/&([^;]*);?/g, (whole, name: string) => {
    if (!whole.endsWith(';')) throw new Error(`unterminated reference near ${at}`);
    if (name in NAMED) return NAMED[name] as string;
    const code = /^#x[0-9a-fA-F]+$/.test(name) ? Number.parseInt(name.slice(2), 16) : /^#\d+$/.test(name) ? Number(name.slice(1)) : Number.NaN;
    if (Number.isNaN(code)) throw new Error(`unknown reference &${name}; near ${at}`);
    const character = String.fromCodePoint(code);
    if (NOT_XML_CHARACTER.test(character)) throw new Error(`reference to a character XML cannot hold near ${at}`);
    return character;
  });
}

export function parseXml(source: string): XmlElement {
  const bad = NOT_XML_CHARACTER.exec(source);
  if (bad) throw new Error(`character U+${bad[0].codePointAt(0)?.toString(16)} at ${bad.index} is not allowed in XML`);
  let at = 0;
  const match = (pattern: RegExp) => {
    const sticky = new RegExp(pattern.source, 'y');
    sticky.lastIndex = at;
    const found = sticky.exec(source);
    if (found) at = sticky.lastIndex;
    return found;
  };
  const expect = (pattern: RegExp, what: string) => {
    const found = match(pattern);
    if (!found) throw new Error(`expected ${what} at ${at}: ${JSON.stringify(source.slice(at, at + 30))}`);
    return found;
  };

  match(/<\?xml version="1\.0"( encoding="UTF-8")?\?>/);
  match(/\s*/);
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  while (at < source.length) {
    const current = stack.at(-1);
    if (!current) {
      if (root) throw new Error(`content after the root element at ${at}`);
    } else {
      const text = expect(/[^<]*/, 'text')[0];
      if (text.includes(']]>')) throw new Error(`']]>' in text near ${at}`);
      current.text += decode(text, at);
    }
    if (at >= source.length) break;
    if (match(/<\//)) {
      const name = expect(/[A-Za-z_:][\w.:-]*/, 'a closing tag name')[0];
      expect(/\s*>/, "'>'");
      if (current?.name !== name) throw new Error(`</${name}> closes <${current?.name ?? 'nothing'}> at ${at}`);
      stack.pop();
      if (stack.length === 0) match(/\s*/);
      continue;
    }
    if (source.startsWith('<!', at) || source.startsWith('<?', at)) throw new Error(`unsupported markup at ${at}`);
    expect(/</, "'<'");
    const element: XmlElement = { name: expect(/[A-Za-z_:][\w.:-]*/, 'a tag name')[0], attributes: {}, children: [], text: '' };
    for (;;) {
      const attribute = match(/\s+([A-Za-z_:][\w.:-]*)\s*=\s*("[^"]*"|'[^']*')/);
      if (!attribute) break;
      const [, name, quoted] = attribute as unknown as [string, string, string];
      if (name in element.attributes) throw new Error(`duplicate attribute ${name} at ${at}`);
      // A conforming parser reads a line break or tab in a value as a space.
      element.attributes[name] = decode(quoted.slice(1, -1), at).replace(/[\t\n\r]/g, ' ');
    }
    const end = expect(/\s*(\/?)>/, "'>' or '/>'");
    if (current) current.children.push(element);
    else root = element;
    if (end[1] !== '/') stack.push(element);
    else if (stack.length === 0) match(/\s*/);
  }
  if (stack.length > 0) throw new Error(`<${stack.at(-1)?.name}> is never closed`);
  if (!root) throw new Error('no root element');
  return root;
}
