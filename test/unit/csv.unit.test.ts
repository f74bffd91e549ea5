import { describe, expect, it } from "vitest";
import { parseCsv, readRecipientsCsv } from "../../backend/src/campaigns/csv.js";

describe("CSV parsing", () => {
  it.each([
    ["comma", "phone,1\n+79161234567,Анна\n", ",", [["+79161234567", "Анна"]]],
    ["semicolon (Excel, Russian locale)", "phone;1;2\n+79161234567;Анна;пятница\n", ";", [["+79161234567", "Анна", "пятница"]]],
    ["CRLF and no final newline", "phone,1\r\n+7916,a\r\n+7917,b", ",", [["+7916", "a"], ["+7917", "b"]]],
    ["a UTF-8 BOM", "\uFEFFphone,1\n+7916,a\n", ",", [["+7916", "a"]]],
    ["quotes holding the delimiter and doubled quotes", 'phone,1\n+7916,"Иванова, Анна ""Аня"""\n', ",", [["+7916", 'Иванова, Анна "Аня"']]],
    ["a quoted field over two lines", 'phone;1\n+7916;"line one\nline two"\n+7917;x\n', ";", [["+7916", "line one\nline two"], ["+7917", "x"]]],
    ["commas inside a semicolon file", "phone;1\n+7916;a, b, c\n", ";", [["+7916", "a, b, c"]]],
    ["empty lines", "phone,1\n\n+7916,a\n\n\n", ",", [["+7916", "a"]]],
    ["a trailing delimiter", "phone;1\n+7916;a;\n", ";", [["+7916", "a"]]],
    ["a quote inside an unquoted value", 'phone,1\n+7916,5" screen\n', ",", [["+7916", '5" screen']]],
  ])("reads %s", (_name, text, delimiter, rows) => {
    const csv = parseCsv(text);
    expect(csv.delimiter).toBe(delimiter);
    expect(csv.errors).toEqual([]);
    expect(csv.rows.map((r) => r.cells)).toEqual(rows);
  });

  it("numbers rows by the line they start on, counting line breaks inside quotes", () => {
    const csv = parseCsv('phone,1\n+7916,"a\nb\nc"\n+7917,d\n');
    expect(csv.rows.map((r) => r.line)).toEqual([2, 5]);
  });

  it("reports bad rows by line and keeps the good ones", () => {
    const text = ["phone;1;2", "+79160000001;Анна;пт", "+79160000002;Борис", "+79160000003;Вера;сб;лишнее", '+79160000004;"Галя"x;вс', "+79160000005;Дима;пн"].join("\n");
    const csv = parseCsv(text);
    expect(csv.rows.map((r) => r.line)).toEqual([2, 6]);
    expect(csv.errors).toEqual([
      { line: 3, reason: "expected 3 fields as in the header, found 2" },
      { line: 4, reason: "expected 3 fields as in the header, found 4" },
      { line: 5, reason: "unexpected text after a closing quote in field 2" },
    ]);
  });

  it("stops at a quote that is never closed and reports where it opened", () => {
    const csv = parseCsv('phone,1\n+7916,ok\n+7917,"never closed\n+7918,lost\n');
    expect(csv.rows.map((r) => r.cells)).toEqual([["+7916", "ok"]]);
    expect(csv.errors).toEqual([{ line: 3, reason: expect.stringContaining("not closed") }]);
  });

  it("reports an empty file", () => {
    expect(parseCsv("\uFEFF\n\n").errors).toEqual([{ line: 1, reason: expect.stringContaining("empty") }]);
  });
});

describe("recipient lists", () => {
  it("maps numbered columns to positional parameters in number order, and the branch column", () => {
    const r = readRecipientsCsv("2;phone;1;branch\nпятница;+79161234567;Анна;ARTPLAY\nсуббота;+79161234568;Борис;\n");
    expect(r.errors).toEqual([]);
    expect(r.rows).toEqual([
      { line: 2, phone: "+79161234567", params: ["Анна", "пятница"], branch: "ARTPLAY" },
      { line: 3, phone: "+79161234568", params: ["Борис", "суббота"] },
    ]);
  });

  it("maps named columns to named parameters", () => {
    const r = readRecipientsCsv("Телефон,first_name,discount\n+79161234567,Анна,10%\n");
    expect(r.rows).toEqual([{ line: 2, phone: "+79161234567", params: { first_name: "Анна", discount: "10%" } }]);
  });

  it("needs no parameter columns", () => {
    expect(readRecipientsCsv("phone\n+79161234567\n").rows).toEqual([{ line: 2, phone: "+79161234567" }]);
  });

  it.each([
    ["name,1\nАнна,x\n", "no phone column"],
    ["phone,1,3\n+7916,a,b\n", "numbered 1, 2, 3"],
    ["phone,name,name\n+7916,a,b\n", "appears twice"],
  ])("refuses the header of %j", (text, reason) => {
    const r = readRecipientsCsv(text);
    expect(r.rows).toEqual([]);
    expect(r.errors[0]).toEqual({ line: 1, reason: expect.stringContaining(reason) });
  });

  it("passes parse errors through with their lines, sorted", () => {
    const r = readRecipientsCsv("phone,1\n+7916,a,b\n+7917,ok\n+7918\n");
    expect(r.rows.map((x) => x.phone)).toEqual(["+7917"]);
    expect(r.errors.map((e) => e.line)).toEqual([2, 4]);
  });
});
