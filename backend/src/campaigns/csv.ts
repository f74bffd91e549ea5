/**
 * The recipient list of a campaign as people export it from Excel, Google Sheets or a CRM: a header
 * row, `,` or `;` between fields (Excel in Russian locales writes `;`), RFC 4180 quotes (a quoted
 * field may hold delimiters, `""` and line breaks), an optional UTF-8 BOM, CRLF or LF line ends.
 * Bad rows are reported by line number and skipped; good rows are imported.
 */

export interface CsvRow {
  /** 1-based line where the row starts in the file. */
  line: number;
  cells: string[];
}

export interface CsvProblem {
  line: number;
  reason: string;
}

export interface ParsedCsv {
  delimiter: "," | ";";
  header: string[];
  headerLine: number;
  rows: CsvRow[];
  errors: CsvProblem[];
}

/** Splits CSV text into rows of cells; malformed rows (an unterminated quote, text after a closing quote) become errors. */
export function parseCsv(input: string): ParsedCsv {
  const text = input.startsWith("\uFEFF") ? input.slice(1) : input;
  const delimiter = detectDelimiter(text);
  const records: Array<{ line: number; cells: string[]; error?: string }> = [];
  let i = 0;
  let line = 1;
  while (i < text.length) {
    const start = line;
    const cells: string[] = [];
    let error: string | undefined;
    for (;;) {
      let cell = "";
      if (text[i] === '"') {
        i++;
        let closed = false;
        while (i < text.length) {
          const ch = text[i]!;
          if (ch === '"') {
            if (text[i + 1] === '"') {
              cell += '"';
              i += 2;
              continue;
            }
            i++;
            closed = true;
            break;
          }
          if (ch === "\n") line++;
          cell += ch;
          i++;
        }
        if (!closed) {
          error = "a quoted field is not closed (a \" is missing)";
          break;
        }
        // Only a delimiter or the end of the row may follow a closing quote.
        if (i < text.length && text[i] !== delimiter && text[i] !== "\n" && text[i] !== "\r") {
          error = `unexpected text after a closing quote in field ${cells.length + 1}`;
          while (i < text.length && text[i] !== "\n") i++;
        }
      } else {
        // A quote inside an unquoted value is kept as it is (lenient, as spreadsheets read it).
        while (i < text.length && text[i] !== delimiter && text[i] !== "\n" && text[i] !== "\r") cell += text[i++];
      }
      cells.push(cell);
      if (i < text.length && text[i] === delimiter) {
        i++;
        continue;
      }
      break;
    }
    // End of the row: CRLF, LF or a lone CR.
    if (text[i] === "\r") i++;
    if (text[i] === "\n") i++;
    line++;
    records.push({ line: start, cells, error });
    if (error && error.startsWith("a quoted field is not closed")) break;
  }

  const errors: CsvProblem[] = [];
  const nonEmpty = records.filter((r) => r.error || r.cells.some((c) => c.trim() !== ""));
  const headerRec = nonEmpty.shift();
  if (!headerRec) return { delimiter, header: [], headerLine: 0, rows: [], errors: [{ line: 1, reason: "the file is empty: a header row is expected" }] };
  if (headerRec.error) errors.push({ line: headerRec.line, reason: `header: ${headerRec.error}` });
  const header = headerRec.cells.map((h) => h.trim());
  const rows: CsvRow[] = [];
  for (const r of nonEmpty) {
    if (r.error) {
      errors.push({ line: r.line, reason: r.error });
      continue;
    }
    let cells = r.cells;
    // A trailing delimiter (empty extra fields) is harmless.
    if (cells.length > header.length && cells.slice(header.length).every((c) => c.trim() === "")) cells = cells.slice(0, header.length);
    if (cells.length !== header.length) {
      errors.push({ line: r.line, reason: `expected ${header.length} fields as in the header, found ${cells.length}` });
      continue;
    }
    rows.push({ line: r.line, cells });
  }
  return { delimiter, header, headerLine: headerRec.line, rows, errors };
}

/** `;` when the first line has more semicolons than commas outside quotes, else `,`. */
function detectDelimiter(text: string): "," | ";" {
  let commas = 0;
  let semis = 0;
  let quoted = false;
  for (const ch of text) {
    if (ch === '"') quoted = !quoted;
    else if (!quoted && (ch === "\n" || ch === "\r")) break;
    else if (!quoted && ch === ",") commas++;
    else if (!quoted && ch === ";") semis++;
  }
  return semis > commas ? ";" : ",";
}

// ───────────────────────────────── recipient list ─────────────────────────────────

export interface RecipientRow {
  /** Line in the CSV (CSV input) … */
  line?: number;
  /** … or position in a JSON array (0-based). */
  index?: number;
  phone: string;
  params?: string[] | Record<string, string>;
  branch?: string;
}

const PHONE_COLUMNS = ["phone", "to", "number", "wa_id", "телефон", "номер"];
const BRANCH_COLUMNS = ["branch", "филиал"];

/**
 * Reads a recipient list: the `phone` column (also `to`, `number`, `wa_id`, `телефон`), an optional
 * `branch` column (branch code or id), and parameter columns. Columns named `1`, `2`, … are the
 * template's positional parameters in that order; other names are named parameters.
 */
export function readRecipientsCsv(text: string): { rows: RecipientRow[]; errors: CsvProblem[] } {
  const csv = parseCsv(text);
  const errors = [...csv.errors];
  if (csv.header.length === 0) return { rows: [], errors };
  const lower = csv.header.map((h) => h.toLowerCase());
  const phoneAt = lower.findIndex((h) => PHONE_COLUMNS.includes(h));
  if (phoneAt < 0) {
    return { rows: [], errors: [{ line: csv.headerLine, reason: `the header has no phone column (name one of: ${PHONE_COLUMNS.join(", ")}); found: ${csv.header.join(", ") || "nothing"}` }, ...errors] };
  }
  const branchAt = lower.findIndex((h) => BRANCH_COLUMNS.includes(h));
  const paramCols = csv.header.map((name, at) => ({ name, at })).filter((c) => c.at !== phoneAt && c.at !== branchAt && c.name !== "");
  const positional = paramCols.length > 0 && paramCols.every((c) => /^\d+$/.test(c.name));
  if (positional) {
    const numbers = paramCols.map((c) => Number(c.name)).sort((a, b) => a - b);
    if (numbers.some((n, k) => n !== k + 1)) {
      return { rows: [], errors: [{ line: csv.headerLine, reason: `positional parameter columns must be numbered 1, 2, 3… without gaps; found ${numbers.join(", ")}` }, ...errors] };
    }
    paramCols.sort((a, b) => Number(a.name) - Number(b.name));
  }
  const dupe = paramCols.find((c, k) => paramCols.findIndex((o) => o.name === c.name) !== k);
  if (dupe) return { rows: [], errors: [{ line: csv.headerLine, reason: `the column '${dupe.name}' appears twice in the header` }, ...errors] };

  const rows: RecipientRow[] = csv.rows.map((r) => {
    const branch = branchAt >= 0 ? r.cells[branchAt]!.trim() : "";
    const params = paramCols.length === 0 ? undefined : positional ? paramCols.map((c) => r.cells[c.at]!.trim()) : Object.fromEntries(paramCols.map((c) => [c.name, r.cells[c.at]!.trim()]));
    return { line: r.line, phone: r.cells[phoneAt]!.trim(), ...(params ? { params } : {}), ...(branch ? { branch } : {}) };
  });
  return { rows, errors: errors.sort((a, b) => a.line - b.line) };
}
