import { describe, expect, it } from "vitest";
import { bbcodeToWhatsApp } from "../../backend/src/crm/bitrix24/bbcode.js";

describe("bbcodeToWhatsApp", () => {
  it.each([
    // the doc's operator reply with NEED_SIGNATURE (§4.5)
    ["[b]Klaus Weber:[/b] [br]Guten Tag!", "*Klaus Weber:*\nGuten Tag!"],
    ["plain text stays", "plain text stays"],
    ["[b]bold[/b]", "*bold*"],
    ["[B]bold[/B] and [I]it[/I]", "*bold* and _it_"],
    ["[i]italic[/i]", "_italic_"],
    ["[s]gone[/s]", "~gone~"],
    ["[del]gone[/del]", "~gone~"],
    ["[u]under[/u]lined", "underlined"],
    ["[b][i]both[/i][/b]", "*_both_*"],
    ["[b]a [i]b[/i] c[/b]", "*a _b_ c*"],
    ["say [b] hi [/b] now", "say  *hi*  now"],
    ["[b]   [/b]x", "x"],
    ["[code]const a = [b]1[/b];[/code]", "```const a = [b]1[/b];```"],
    ["[CODE]x[/CODE]", "```x```"],
    ["[url=https://example.com/a?b=1&amp;c=2]the site[/url]", "the site (https://example.com/a?b=1&c=2)"],
    ["[URL]https://example.com[/URL]", "https://example.com"],
    ["[url=https://example.com]https://example.com[/url]", "https://example.com"],
    ["[url=https://example.com][/url]", "https://example.com"],
    ["line one[br]line two[BR]three", "line one\nline two\nthree"],
    ["[user=27]Klaus Weber[/user], hello", "Klaus Weber, hello"],
    ["[USER=27 REPLACE]Klaus[/USER]", "Klaus"],
    ["[chat=12]Sales[/chat] [send=/help]Help[/send] [put=/x]Put[/put]", "Sales Help Put"],
    ["[quote]first[br]second[/quote]after", "> first\n> second\nafter"],
    ["[quote][quote]inner[/quote]outer[/quote]", "> > inner\n> outer"],
    ["[color=#ff0000]red[/color] [size=12]big[/size]", "red big"],
    ["[list][*]one[*]two[/list]", "- one\n- two"],
    ["[icon=https://x/i.png size=20] hi [disk file id=123]", "hi"],
    ["[img]https://x/a.png[/img]", "https://x/a.png"],
    ["[foo]known closing makes it a tag[/foo]", "known closing makes it a tag"],
    ["see [note] and [1]", "see [note] and [1]"],
    ["stray [/b] close", "stray  close"],
    ["[b]never closed", "never closed"],
    ["[b]a[i]b[/b]c[/i]", "*ab*c"],
    ["&quot;quoted&quot; &amp; &lt;tag&gt; &#39;s&#039; &#x1F600; &nbsp;x", "\"quoted\" & <tag> 's' 😀  x"],
    ["&#91;b&#93;literal&#91;/b&#93;", "[b]literal[/b]"],
    ["&bogus; &#0; &#xD800;", "&bogus; &#0; &#xD800;"],
    ["a[br][br][br][br]b", "a\n\nb"],
    ["", ""],
  ])("%j → %j", (input, expected) => {
    expect(bbcodeToWhatsApp(input)).toBe(expected);
  });
});
