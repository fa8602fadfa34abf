// ANSI SGR codes (colours, bold, underline...) into styled spans; every other escape sequence
// (cursor moves, erase line, OSC titles and links) is dropped.

export interface Span {
  text: string;
  /** CSS classes for the 16 theme colours and attributes. */
  cls: string;
  /** Inline CSS for 256-colour and truecolour codes. */
  style: string;
}

interface Pen {
  fg: string | null; // "f1".."f15" (a class) or "#rrggbb"
  bg: string | null;
  bold: boolean;
  dim: boolean;
  italic: boolean;
  underline: boolean;
  inverse: boolean;
  strike: boolean;
}

const BLANK: Pen = {
  fg: null,
  bg: null,
  bold: false,
  dim: false,
  italic: false,
  underline: false,
  inverse: false,
  strike: false,
};

// CSI ... final byte, or OSC ... (BEL | ESC \), or a lone two-byte escape.
const ESCAPE = /\x1b(?:\[([0-?]*)[ -/]*([@-~])|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])/g;

function xterm256(n: number): string {
  if (n < 16) return `c${n}`;
  if (n < 232) {
    const i = n - 16;
    const level = (v: number) => (v === 0 ? 0 : 55 + v * 40);
    return rgb(level(Math.floor(i / 36)), level(Math.floor(i / 6) % 6), level(i % 6));
  }
  const grey = 8 + (n - 232) * 10;
  return rgb(grey, grey, grey);
}

function rgb(r: number, g: number, b: number): string {
  const hex = (v: number) =>
    Math.max(0, Math.min(255, v | 0))
      .toString(16)
      .padStart(2, "0");
  return `#${hex(r)}${hex(g)}${hex(b)}`;
}

function apply(pen: Pen, params: string): Pen {
  const codes = params === "" ? [0] : params.split(/[;:]/).map((p) => (p === "" ? 0 : Number(p)));
  const next = { ...pen };
  for (let i = 0; i < codes.length; i++) {
    const code = codes[i];
    if (code === 0) Object.assign(next, BLANK);
    else if (code === 1) next.bold = true;
    else if (code === 2) next.dim = true;
    else if (code === 3) next.italic = true;
    else if (code === 4) next.underline = true;
    else if (code === 7) next.inverse = true;
    else if (code === 9) next.strike = true;
    else if (code === 22) next.bold = next.dim = false;
    else if (code === 23) next.italic = false;
    else if (code === 24) next.underline = false;
    else if (code === 27) next.inverse = false;
    else if (code === 29) next.strike = false;
    else if (code >= 30 && code <= 37) next.fg = `c${code - 30}`;
    else if (code >= 90 && code <= 97) next.fg = `c${code - 82}`;
    else if (code >= 40 && code <= 47) next.bg = `c${code - 40}`;
    else if (code >= 100 && code <= 107) next.bg = `c${code - 92}`;
    else if (code === 39) next.fg = null;
    else if (code === 49) next.bg = null;
    else if (code === 38 || code === 48) {
      let colour: string | null = null;
      if (codes[i + 1] === 5 && i + 2 < codes.length) {
        colour = xterm256(codes[i + 2]);
        i += 2;
      } else if (codes[i + 1] === 2 && i + 4 < codes.length) {
        colour = rgb(codes[i + 2], codes[i + 3], codes[i + 4]);
        i += 4;
      }
      if (code === 38) next.fg = colour;
      else next.bg = colour;
    }
  }
  return next;
}

function render(pen: Pen): { cls: string; style: string } {
  let fg = pen.fg;
  let bg = pen.bg;
  if (pen.inverse) [fg, bg] = [bg ?? "cbg", fg ?? "cfg"]; // a-fbg, a-bfg: the console's own colours
  const classes: string[] = [];
  const styles: string[] = [];
  if (fg) {
    if (fg.startsWith("#")) styles.push(`color:${fg}`);
    else classes.push(`a-f${fg.slice(1)}`);
  }
  if (bg) {
    if (bg.startsWith("#")) styles.push(`background:${bg}`);
    else classes.push(`a-b${bg.slice(1)}`);
  }
  if (pen.bold) classes.push("a-bold");
  if (pen.dim) classes.push("a-dim");
  if (pen.italic) classes.push("a-italic");
  if (pen.underline) classes.push("a-underline");
  if (pen.strike) classes.push("a-strike");
  return { cls: classes.join(" "), style: styles.join(";") };
}

/** Plain text (no escapes) comes back as one unstyled span without running the regex. */
export function parseAnsi(text: string): Span[] {
  if (!text.includes("\x1b")) return [{ text, cls: "", style: "" }];
  const spans: Span[] = [];
  let pen = BLANK;
  let last = 0;
  const push = (chunk: string) => {
    if (!chunk) return;
    const { cls, style } = render(pen);
    const previous = spans[spans.length - 1];
    if (previous && previous.cls === cls && previous.style === style) previous.text += chunk;
    else spans.push({ text: chunk, cls, style });
  };
  ESCAPE.lastIndex = 0;
  for (let match = ESCAPE.exec(text); match; match = ESCAPE.exec(text)) {
    push(text.slice(last, match.index));
    last = ESCAPE.lastIndex;
    if (match[2] === "m") pen = apply(pen, match[1] ?? "");
  }
  push(text.slice(last));
  return spans;
}

/** The text without escape sequences, for searching. */
export function stripAnsi(text: string): string {
  return text.includes("\x1b") ? text.replace(ESCAPE, "") : text;
}
