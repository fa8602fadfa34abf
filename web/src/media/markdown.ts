// A small Markdown renderer that is safe by construction: it builds Preact elements, never HTML
// strings, so raw HTML in the text shows as text (a <script> or an <img onerror> is inert), and
// links and images keep only http(s) (and mailto) or relative URLs: no javascript:, data: or
// vbscript:. It covers what logged reports use: headings, paragraphs, emphasis, code spans and
// fenced code, links, images, lists (nested), block quotes, rules and GFM tables.
import { type ComponentChild, type ComponentChildren, type VNode, h } from "preact";

type Inline = ComponentChildren[];

/** The URL when it is safe to follow or load, else null. Browsers ignore control characters
 * and whitespace inside a scheme ("java\tscript:"), so they are dropped before it is read. */
export function safeUrl(raw: string, { image = false } = {}): string | null {
  // eslint-disable-next-line no-control-regex
  const url = raw.trim().replace(/[\u0000-\u0020\u007f]/g, "");
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url);
  if (!scheme) return url;
  const name = scheme[1].toLowerCase();
  return name === "http" || name === "https" || (!image && name === "mailto") ? url : null;
}

const LINK =
  /^\[((?:[^[\]\\]|\\.|\[[^[\]]*\])*)\]\(\s*<?([^\s<>()]*(?:\([^\s()]*\)[^\s<>()]*)*)>?(?:\s+(?:"([^"]*)"|'([^']*)'))?\s*\)/;
const AUTOLINK = /^<((?:https?:\/\/|mailto:)[^\s<>]+)>/i;
const BARE_URL = /^https?:\/\/[^\s<>]*[^\s<>.,:;"')\]]/i;
const ESCAPABLE = /^\\([!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~])/;

function delimited(text: string, at: number, marker: string): number {
  // The closing marker of an emphasis opened at `at`: not right after the opener, not after a
  // space; "_" only between non-word characters (snake_case stays as it is).
  const from = at + marker.length;
  if (from >= text.length || /\s/.test(text[from])) return -1;
  if (marker[0] === "_" && at > 0 && /\w/.test(text[at - 1])) return -1;
  let end = text.indexOf(marker, from + 1);
  while (end > 0) {
    const after = text[end + marker.length];
    const ok = !/\s/.test(text[end - 1]) && !(marker[0] === "_" && after && /\w/.test(after));
    if (ok && !(marker.length === 1 && text[end + 1] === marker[0] && text[end - 1] !== marker[0])) return end;
    end = text.indexOf(marker, end + 1);
  }
  return -1;
}

/** Inline Markdown to Preact children. */
export function inline(text: string): Inline {
  const out: Inline = [];
  let plain = "";
  const flush = () => {
    if (plain) out.push(plain);
    plain = "";
  };
  let i = 0;
  while (i < text.length) {
    const rest = text.slice(i);
    const c = text[i];
    let m: RegExpExecArray | null;
    if (c === "\\" && rest[1] === "\n") {
      flush();
      out.push(h("br", null));
      i += 2;
    } else if (c === "\\" && (m = ESCAPABLE.exec(rest))) {
      plain += m[1];
      i += 2;
    } else if (c === "`") {
      const run = /^`+/.exec(rest)![0];
      const end = text.indexOf(run, i + run.length);
      if (end < 0) {
        plain += run;
        i += run.length;
      } else {
        flush();
        out.push(h("code", null, text.slice(i + run.length, end).replace(/^ (.+) $/s, "$1")));
        i = end + run.length;
      }
    } else if (c === "!" && (m = LINK.exec(rest.slice(1)))) {
      flush();
      const src = safeUrl(m[2], { image: true });
      if (src)
        out.push(h("img", { src, alt: m[1], title: m[3] ?? m[4], loading: "lazy", referrerpolicy: "no-referrer" }));
      else out.push(m[1]);
      i += 1 + m[0].length;
    } else if (c === "[" && (m = LINK.exec(rest))) {
      flush();
      const href = safeUrl(m[2]);
      const label = inline(m[1]);
      out.push(
        href
          ? h("a", { href, title: m[3] ?? m[4], target: "_blank", rel: "noopener noreferrer nofollow" }, label)
          : h("span", null, label),
      );
      i += m[0].length;
    } else if (c === "<" && (m = AUTOLINK.exec(rest))) {
      flush();
      out.push(h("a", { href: safeUrl(m[1]), target: "_blank", rel: "noopener noreferrer nofollow" }, m[1]));
      i += m[0].length;
    } else if ((c === "h" || c === "H") && !/\w/.test(text[i - 1] ?? "") && (m = BARE_URL.exec(rest))) {
      flush();
      out.push(h("a", { href: m[0], target: "_blank", rel: "noopener noreferrer nofollow" }, m[0]));
      i += m[0].length;
    } else if (c === "*" || c === "_" || c === "~") {
      const marker = rest.startsWith(c + c) ? c + c : c;
      const end = marker === "~" ? -1 : delimited(text, i, marker);
      if (end < 0) {
        plain += marker;
        i += marker.length;
      } else {
        flush();
        const tag = marker === "~~" ? "del" : marker.length === 2 ? "strong" : "em";
        out.push(h(tag, null, inline(text.slice(i + marker.length, end))));
        i = end + marker.length;
      }
    } else if (c === "\n" && plain.endsWith("  ")) {
      plain = plain.trimEnd();
      flush();
      out.push(h("br", null));
      i += 1;
    } else {
      plain += c;
      i += 1;
    }
  }
  flush();
  return out;
}

const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([^`\s]*)/;
const HEADING = /^ {0,3}(#{1,6})(?:\s+(.*?))?(?:\s+#+)?\s*$/;
const RULE = /^ {0,3}([-*_])(?:\s*\1){2,}\s*$/;
const QUOTE = /^ {0,3}> ?/;
const ITEM = /^( {0,3})([-*+]|\d{1,9}[.)])(\s+|$)/;
const TABLE_RULE = /^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$/;

function isParagraph(node: ComponentChild): node is VNode<{ children?: ComponentChildren }> {
  return typeof node === "object" && node !== null && "type" in node && node.type === "p";
}

const blank = (line: string) => line.trim() === "";

function cells(line: string): string[] {
  const trimmed = line
    .trim()
    .replace(/^\|/, "")
    .replace(/(?<!\\)\|$/, "");
  return trimmed.split(/(?<!\\)\|/).map((cell) => cell.trim().replace(/\\\|/g, "|"));
}

/** Whether `line` starts a block other than a paragraph (so a paragraph ends before it). */
function startsBlock(line: string): boolean {
  return FENCE.test(line) || HEADING.test(line) || RULE.test(line) || QUOTE.test(line) || ITEM.test(line);
}

function list(lines: string[], start: number): [ComponentChild, number] {
  const first = ITEM.exec(lines[start])!;
  const ordered = /\d/.test(first[2]);
  const items: string[][] = [];
  let loose = false;
  let i = start;
  while (i < lines.length) {
    const m = ITEM.exec(lines[i]);
    if (!m || /\d/.test(m[2]) !== ordered) break;
    const indent = m[0].length;
    const item = [lines[i].slice(indent)];
    i++;
    while (i < lines.length) {
      const line = lines[i];
      if (blank(line)) {
        // A blank line continues the item only when indented lines follow it.
        let j = i;
        while (j < lines.length && blank(lines[j])) j++;
        if (j < lines.length && /^\s+/.test(lines[j]) && lines[j].length - lines[j].trimStart().length >= indent) {
          loose = true;
          item.push(...lines.slice(i, j).map(() => ""));
          i = j;
          continue;
        }
        break;
      }
      const leading = line.length - line.trimStart().length;
      if (leading >= indent) item.push(line.slice(indent));
      else if (!startsBlock(line))
        item.push(line.trimStart()); // a lazy continuation
      else break;
      i++;
    }
    items.push(item);
    if (i < lines.length && blank(lines[i])) {
      let j = i;
      while (j < lines.length && blank(lines[j])) j++;
      if (j < lines.length && ITEM.test(lines[j])) {
        loose = true;
        i = j;
      }
    }
  }
  const start1 = ordered ? parseInt(first[2], 10) : undefined;
  const children = items.map((item) => {
    const content = blocks(item);
    // A tight list's items are their text, not paragraphs.
    const unwrapped = content.map((node) => (!loose && isParagraph(node) ? node.props.children : node));
    return h("li", null, unwrapped);
  });
  return [h(ordered ? "ol" : "ul", ordered && start1 !== 1 ? { start: start1 } : null, children), i];
}

/** Block Markdown (already split in lines) to Preact elements. */
export function blocks(lines: string[]): ComponentChild[] {
  const out: ComponentChild[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    let m: RegExpExecArray | null;
    if (blank(line)) {
      i++;
    } else if ((m = FENCE.exec(line))) {
      const fence = m[1];
      const body: string[] = [];
      i++;
      while (
        i < lines.length &&
        !new RegExp(`^ {0,3}${fence[0] === "`" ? "`" : "~"}{${fence.length},}\\s*$`).test(lines[i])
      ) {
        body.push(lines[i]);
        i++;
      }
      i++; // the closing fence (or the end)
      out.push(h("pre", { class: "md-code" }, h("code", m[2] ? { "data-lang": m[2] } : null, body.join("\n"))));
    } else if ((m = HEADING.exec(line))) {
      out.push(h(`h${m[1].length}`, null, inline(m[2] ?? "")));
      i++;
    } else if (RULE.test(line)) {
      out.push(h("hr", null));
      i++;
    } else if (QUOTE.test(line)) {
      const body: string[] = [];
      while (i < lines.length && !blank(lines[i]) && (QUOTE.test(lines[i]) || !startsBlock(lines[i]))) {
        body.push(lines[i].replace(QUOTE, ""));
        i++;
      }
      out.push(h("blockquote", null, blocks(body)));
    } else if (ITEM.test(line)) {
      const [node, next] = list(lines, i);
      out.push(node);
      i = next;
    } else if (
      line.includes("|") &&
      i + 1 < lines.length &&
      TABLE_RULE.test(lines[i + 1]) &&
      lines[i + 1].includes("-")
    ) {
      const head = cells(line);
      const aligns = cells(lines[i + 1]).map((c) =>
        c.startsWith(":") && c.endsWith(":")
          ? "center"
          : c.endsWith(":")
            ? "right"
            : c.startsWith(":")
              ? "left"
              : undefined,
      );
      i += 2;
      const rows: string[][] = [];
      while (i < lines.length && !blank(lines[i]) && lines[i].includes("|")) rows.push(cells(lines[i++]));
      const style = (c: number) => (aligns[c] ? { textAlign: aligns[c] } : undefined);
      out.push(
        h("table", { class: "md-table" }, [
          h(
            "thead",
            null,
            h(
              "tr",
              null,
              head.map((cell, c) => h("th", { style: style(c) }, inline(cell))),
            ),
          ),
          h(
            "tbody",
            null,
            rows.map((row) =>
              h(
                "tr",
                null,
                head.map((_, c) => h("td", { style: style(c) }, inline(row[c] ?? ""))),
              ),
            ),
          ),
        ]),
      );
    } else if (/^( {4}|\t)/.test(line)) {
      const body: string[] = [];
      while (i < lines.length && (/^( {4}|\t)/.test(lines[i]) || blank(lines[i])))
        body.push(lines[i++].replace(/^( {4}|\t)/, ""));
      while (body.length && blank(body[body.length - 1])) body.pop();
      out.push(h("pre", { class: "md-code" }, h("code", null, body.join("\n"))));
    } else {
      const body: string[] = [];
      while (i < lines.length && !blank(lines[i]) && (body.length === 0 || !startsBlock(lines[i])))
        body.push(lines[i++]);
      out.push(h("p", null, inline(body.join("\n"))));
    }
  }
  return out;
}

/** Markdown text to Preact elements. */
export function markdown(text: string): ComponentChild[] {
  return blocks(text.replace(/\r\n?/g, "\n").split("\n"));
}
