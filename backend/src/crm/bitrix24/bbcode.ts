/**
 * Operator text from an Open Lines chat (BBCode, bitrix24.md §4.5: `[b]Klaus Weber:[/b] [br]Guten Tag!`)
 * to WhatsApp formatting: `*bold*`, `_italic_`, `~strike~`, ```` ```mono``` ````, `> quote`, `- item`.
 *
 * Tag names are case-insensitive. A bracketed word counts as a tag when Bitrix24 knows it, or when it
 * has a matching closing tag; so a stray `[note]` typed by an operator stays text, while `[foo]x[/foo]`
 * and every known tag are replaced by their content. Unclosed known tags are dropped, their content kept.
 * `[code]` content is kept verbatim (no tag inside it is read). HTML entities (`&quot;`, `&#39;`,
 * `&#x41;`) are decoded last, so an encoded `&#91;b&#93;` stays the literal text `[b]`.
 */
export function bbcodeToWhatsApp(text: string): string {
  const tree = parse(text);
  const out = render(tree.children);
  return out
    .replace(/[ \t]+\n/g, "\n")
    .replace(/\n{3,}/g, "\n\n")
    .trim();
}

type Node = TextNode | TagNode;
interface TextNode {
  kind: "text";
  text: string;
}
interface TagNode {
  kind: "tag";
  name: string;
  param?: string;
  /** The tag as written, for unknown tags that turn out to be plain text. */
  source: string;
  children: Node[];
  closed: boolean;
}

/** Tags with no closing counterpart. */
const VOID = new Set(["br", "*", "hr", "icon", "disk", "timestamp", "attach", "smile", "rating", "dialog"]);
/** Tags Bitrix24 chats use (im BBCode); all are removed even without a closing tag. */
const KNOWN = new Set([
  ...VOID,
  "b", "i", "u", "s", "del", "code", "quote", "url", "user", "chat", "send", "put", "context", "call", "pch",
  "color", "size", "font", "img", "list", "p", "left", "right", "center", "justify", "table", "tr", "td", "th",
  "spoiler", "sub", "sup", "video", "lang",
]);

const TAG_RE = /\[(\/?)([a-z]+|\*)(?:[= ]([^\]\r\n]*))?\]/gi;

function parse(text: string): TagNode {
  const root: TagNode = { kind: "tag", name: "", source: "", children: [], closed: true };
  const closers = closingNames(text);
  const stack: TagNode[] = [root];
  const top = () => stack[stack.length - 1]!;
  let pos = 0;
  TAG_RE.lastIndex = 0;
  for (let m = TAG_RE.exec(text); m; m = TAG_RE.exec(text)) {
    const [source, slash, rawName, param] = m;
    const name = rawName!.toLowerCase();
    const isTag = KNOWN.has(name) || closers.has(name);
    if (!isTag) continue;
    if (m.index > pos) top().children.push({ kind: "text", text: text.slice(pos, m.index) });
    pos = m.index + source.length;
    if (slash) {
      const at = findOpen(stack, name);
      if (at > 0) {
        // Everything opened inside and never closed is unwrapped into its parent.
        while (stack.length - 1 > at) stack.pop();
        stack.pop()!.closed = true;
      }
      // A closing tag with nothing to close is dropped.
      continue;
    }
    const node: TagNode = { kind: "tag", name, param, source, children: [], closed: VOID.has(name) };
    top().children.push(node);
    if (name === "code") {
      const end = findCodeEnd(text, pos);
      if (end) {
        node.children.push({ kind: "text", text: text.slice(pos, end.start) });
        node.closed = true;
        pos = end.after;
        TAG_RE.lastIndex = pos;
      }
      continue;
    }
    if (!VOID.has(name)) stack.push(node);
  }
  if (pos < text.length) top().children.push({ kind: "text", text: text.slice(pos) });
  return root;
}

function closingNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const m of text.matchAll(/\[\/([a-z]+)\]/gi)) names.add(m[1]!.toLowerCase());
  return names;
}

function findOpen(stack: TagNode[], name: string): number {
  for (let i = stack.length - 1; i > 0; i--) if (stack[i]!.name === name) return i;
  return -1;
}

function findCodeEnd(text: string, from: number): { start: number; after: number } | undefined {
  const re = /\[\/code\]/gi;
  re.lastIndex = from;
  const m = re.exec(text);
  return m ? { start: m.index, after: m.index + m[0].length } : undefined;
}

function render(nodes: Node[]): string {
  let out = "";
  for (const n of nodes) out += n.kind === "text" ? decodeEntities(n.text) : renderTag(n);
  return out;
}

function renderTag(n: TagNode): string {
  const inner = () => render(n.children);
  // An unknown tag that never closed was only text after all.
  if (!n.closed && !KNOWN.has(n.name)) return decodeEntities(n.source) + inner();
  switch (n.name) {
    case "br":
      return "\n";
    case "*":
      return "\n- ";
    case "hr":
      return "\n";
    case "b":
      return n.closed ? wrap(inner(), "*") : inner();
    case "i":
      return n.closed ? wrap(inner(), "_") : inner();
    case "s":
    case "del":
      return n.closed ? wrap(inner(), "~") : inner();
    case "code": {
      const body = inner();
      return n.closed && body.trim() ? "```" + body + "```" : body;
    }
    case "quote":
      return n.closed ? quote(inner()) : inner();
    case "list":
      return "\n" + inner().replace(/^\n+/, "") + "\n";
    case "url":
    case "img":
      return link(inner(), n.param);
    case "icon":
    case "disk":
    case "timestamp":
    case "attach":
    case "smile":
    case "rating":
    case "dialog":
      return "";
    default:
      // user, chat, send, put, context, color, size, font, alignment… and closed unknown tags.
      return inner();
  }
}

/** WhatsApp only honours markers that touch non-space characters: keep outer spaces outside. */
function wrap(content: string, marker: string): string {
  const m = /^(\s*)([\s\S]*?)(\s*)$/.exec(content)!;
  if (m[2]!.length === 0) return content;
  return `${m[1]}${marker}${m[2]}${marker}${m[3]}`;
}

function quote(content: string): string {
  const body = content.replace(/^\n+|\n+$/g, "");
  if (!body) return "";
  return "\n" + body.split("\n").map((l) => `> ${l}`).join("\n") + "\n";
}

function link(text: string, param: string | undefined): string {
  const url = param ? decodeEntities(param.trim().replace(/^["']|["']$/g, "")) : "";
  const label = text.trim();
  if (!url) return label;
  if (!label || label === url) return url;
  return `${label} (${url})`;
}

const NAMED: Record<string, string> = { quot: '"', amp: "&", lt: "<", gt: ">", apos: "'", nbsp: " " };

function decodeEntities(s: string): string {
  if (!s.includes("&")) return s;
  return s.replace(/&(#x[0-9a-f]{1,6}|#\d{1,7}|[a-z]+);/gi, (whole, body: string) => {
    if (body[0] === "#") {
      const code = body[1] === "x" || body[1] === "X" ? Number.parseInt(body.slice(2), 16) : Number.parseInt(body.slice(1), 10);
      return code > 0 && code <= 0x10ffff && !(code >= 0xd800 && code <= 0xdfff) ? String.fromCodePoint(code) : whole;
    }
    return NAMED[body.toLowerCase()] ?? whole;
  });
}
