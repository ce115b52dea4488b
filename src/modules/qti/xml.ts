/**
 * A tiny XML writer: build a tree with {@link el}, serialise it with
 * {@link serializeXml}. Every piece of text and every attribute value goes
 * through the escaper, so no caller ever concatenates markup by hand.
 *
 * Guarantees of the output:
 * - well-formed XML 1.0 in UTF-8 (the caller encodes the string as UTF-8);
 * - text and attribute values read back exactly as given: `& < >` are escaped
 *   everywhere, `"` in attributes, and CR / LF / TAB in attributes (and CR in
 *   text) are written as character references, because XML parsers would
 *   otherwise normalise them away;
 * - characters XML 1.0 cannot carry at all, not even as references (NUL,
 *   most C0 controls, lone surrogates, U+FFFE/U+FFFF — e.g. form feeds that
 *   PDF extraction leaves in text), become U+FFFD: the document stays valid
 *   and the loss stays visible instead of silent;
 * - characters that are invisible or look like a plain space (no-break and
 *   typographic spaces, zero-width characters, bidi controls, BOM) are written
 *   as `&#x…;` references, so a reader of the file can tell them apart;
 * - indentation is only added inside elements whose children are all
 *   elements; an element with any text child is written inline, because
 *   whitespace inside mixed content (a `<p>`, a `<simpleChoice>`) is content.
 */

export type XmlAttrValue = string | number | boolean | undefined;
export type XmlNode = XmlElement | XmlText | XmlComment;

export interface XmlElement {
  readonly kind: 'element';
  readonly name: string;
  readonly attrs: Readonly<Record<string, XmlAttrValue>>;
  readonly children: readonly XmlNode[];
}

export interface XmlText {
  readonly kind: 'text';
  readonly text: string;
}

export interface XmlComment {
  readonly kind: 'comment';
  readonly text: string;
}

/** What {@link el} accepts as a child: strings become text; null/undefined/false are skipped so optional parts read naturally. */
export type XmlChild = XmlNode | string | null | undefined | false | readonly XmlChild[];

// QNames as XML 1.0 allows them, restricted to what we write: no need for the full Unicode name ranges.
const NAME = /^[A-Za-z_][A-Za-z0-9._-]*(?::[A-Za-z_][A-Za-z0-9._-]*)?$/;

/** An element. Attributes whose value is `undefined` are left out. */
export function el(name: string, attrs: Readonly<Record<string, XmlAttrValue>> = {}, ...children: XmlChild[]): XmlElement {
  if (!NAME.test(name)) throw new Error(`invalid XML element name ${JSON.stringify(name)}`);
  for (const key of Object.keys(attrs)) {
    if (!NAME.test(key)) throw new Error(`invalid XML attribute name ${JSON.stringify(key)} on <${name}>`);
  }
  return { kind: 'element', name, attrs, children: flatten(children) };
}

export function text(value: string): XmlText {
  return { kind: 'text', text: value };
}

/** A comment; `--` (forbidden inside comments) is broken up so any text is safe. */
export function comment(value: string): XmlComment {
  return { kind: 'comment', text: value };
}

function flatten(children: readonly XmlChild[]): XmlNode[] {
  const out: XmlNode[] = [];
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (typeof child === 'string') {
      if (child.length > 0) out.push(text(child));
    } else if (Array.isArray(child)) out.push(...flatten(child as readonly XmlChild[]));
    else out.push(child as XmlNode);
  }
  return out;
}

// Everything outside XML 1.0's Char production. With the `u` flag a lone
// surrogate is one code point and matches the surrogate ranges; a valid pair does not.
const NOT_XML_CHAR = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

/** Replace what XML 1.0 cannot represent with U+FFFD. */
export function xmlSafe(value: string): string {
  return value.replace(NOT_XML_CHAR, '\uFFFD');
}

const TEXT_ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '\r': '&#13;' };
const ATTR_ESCAPES: Readonly<Record<string, string>> = {
  ...TEXT_ESCAPES,
  '"': '&quot;',
  '\t': '&#9;',
  '\n': '&#10;',
};

const INVISIBLE = /[\u00A0\u00AD\u061C\u1680\u180E\u2000-\u200F\u2028-\u202F\u205F-\u206F\u3000\uFEFF]/g;
const reference = (c: string): string => `&#x${c.charCodeAt(0).toString(16).toUpperCase()};`;

export function escapeText(value: string): string {
  return xmlSafe(value)
    .replace(/[&<>\r]/g, (c) => TEXT_ESCAPES[c] ?? c)
    .replace(INVISIBLE, reference);
}

export function escapeAttr(value: string): string {
  return xmlSafe(value)
    .replace(/[&<>"\r\n\t]/g, (c) => ATTR_ESCAPES[c] ?? c)
    .replace(INVISIBLE, reference);
}

function attrString(value: string | number | boolean, where: string): string {
  if (typeof value === 'number' && !Number.isFinite(value)) throw new Error(`${where}: ${value} is not a finite number`);
  return String(value);
}

export interface SerializeOptions {
  /** Spaces per level; 0 writes everything on one line. Default 2. */
  indent?: number;
  /** Write `<?xml version="1.0" encoding="UTF-8"?>`. Default true. */
  declaration?: boolean;
}

/** Serialise a document whose root is `root`. */
export function serializeXml(root: XmlElement, options: SerializeOptions = {}): string {
  const indent = options.indent ?? 2;
  const parts: string[] = [];
  if (options.declaration ?? true) parts.push('<?xml version="1.0" encoding="UTF-8"?>\n');
  write(root, 0, false);
  parts.push('\n');
  return parts.join('');

  function newline(depth: number): string {
    return indent > 0 ? `\n${' '.repeat(indent * depth)}` : '';
  }

  /** `inline`: inside mixed content, where added whitespace would change the text. */
  function write(node: XmlNode, depth: number, inline: boolean): void {
    switch (node.kind) {
      case 'text':
        parts.push(escapeText(node.text));
        return;
      case 'comment':
        // "--" may not occur in a comment and it may not end with "-".
        parts.push(`<!--${xmlSafe(node.text).replace(/-(?=-)/g, '- ').replace(/-$/, '- ')}-->`);
        return;
      case 'element':
        break;
    }
    parts.push(`<${node.name}`);
    for (const [key, value] of Object.entries(node.attrs)) {
      if (value === undefined) continue;
      parts.push(` ${key}="${escapeAttr(attrString(value, `<${node.name} ${key}>`))}"`);
    }
    if (node.children.length === 0) {
      parts.push('/>');
      return;
    }
    parts.push('>');
    const flow = inline || node.children.some((c) => c.kind === 'text');
    for (const child of node.children) {
      if (!flow) parts.push(newline(depth + 1));
      write(child, depth + 1, flow);
    }
    if (!flow) parts.push(newline(depth));
    parts.push(`</${node.name}>`);
  }
}
