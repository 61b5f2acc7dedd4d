// The docs stay true by checks: README.md stays a short first read (the reference lives in
// docs/), every relative link in README.md and docs/*.md reaches a file (and, with a #fragment
// into a Markdown file, one of its headings), and every runtime export of 'dmabuf' and
// 'dmabuf/testing' is named in docs/API.md.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const README_MAX_LINES = 350;

const markdownFiles = [
  join(ROOT, 'README.md'),
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => join(ROOT, 'docs', f)),
];

const read = (file: string): string => readFileSync(file, 'utf8');

/** Lines as `wc -l` counts them: a final newline ends the last line, it does not start one. */
function lineCount(text: string): number {
  const lines = text.split('\n');
  return text.endsWith('\n') ? lines.length - 1 : lines.length;
}

/** The file's lines, those of fenced code blocks (fences included) blanked to ''. */
function prose(text: string): string[] {
  let fence: string | undefined;
  return text.split('\n').map((line) => {
    const open = /^\s{0,3}(`{3,}|~{3,})/.exec(line);
    if (fence === undefined) {
      if (open) {
        fence = open[1]![0]!.repeat(open[1]!.length);
        return '';
      }
      return line;
    }
    if (open && open[1]!.startsWith(fence)) fence = undefined;
    return '';
  });
}

const CODE_SPAN = /(`+)([\s\S]*?[^`])\1(?!`)/g;

/** The prose lines with inline code spans (which may cross lines) blanked: `[a](b)` in backticks is no link. */
const proseWithoutCode = (text: string): string[] =>
  prose(text)
    .join('\n')
    .replace(CODE_SPAN, (span) => span.replace(/[^\n]/g, ' '))
    .split('\n');

/** GitHub's heading anchors: lowercase, punctuation other than '-' and '_' dropped, spaces to '-'; repeats get -1, -2, … */
function anchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const line of prose(text)) {
    const h = /^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!h) continue;
    const plain = h[1]!.replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1'); // a link in a heading reads as its text
    const slug = plain
      .toLowerCase()
      .replace(/[^\p{L}\p{M}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    out.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return out;
}

interface Link {
  file: string;
  line: number;
  target: string;
}

/** Inline links and images `[text](target "title")` and reference definitions `[id]: target`. */
function links(file: string): Link[] {
  const out: Link[] = [];
  proseWithoutCode(read(file)).forEach((line, i) => {
    const targets: string[] = [];
    for (const m of line.matchAll(/\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+["'(][^)]*)?\)/g)) targets.push(m[1]!);
    const def = /^\s{0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)/.exec(line);
    if (def) targets.push(def[1]!);
    for (const t of targets) out.push({ file, line: i + 1, target: t.replace(/^<|>$/g, '') });
  });
  return out;
}

const isExternal = (target: string): boolean => /^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//');

/** What is wrong with a relative link, or undefined when it reaches its file (and heading). */
function brokenReason(link: Link): string | undefined {
  const hash = link.target.indexOf('#');
  const path = decodeURIComponent(hash === -1 ? link.target : link.target.slice(0, hash));
  const fragment = hash === -1 ? undefined : decodeURIComponent(link.target.slice(hash + 1));
  const file = path === '' ? link.file : resolve(dirname(link.file), path);
  if (!existsSync(file)) return `no file ${relative(ROOT, file)}`;
  if (fragment === undefined || !file.endsWith('.md') || statSync(file).isDirectory()) return undefined;
  if (!anchors(read(file)).has(fragment)) return `no heading #${fragment} in ${relative(ROOT, file)}`;
  return undefined;
}

/** The text of docs/API.md that is code: fenced blocks and inline code spans. */
function codeText(text: string): string {
  const lines = text.split('\n');
  const outside = prose(text);
  const fenced = lines.filter((line, i) => outside[i] === '' && line !== '');
  const spans = [...outside.join('\n').matchAll(CODE_SPAN)].map((m) => m[2]!);
  return [...fenced, ...spans].join('\n');
}

const named = (code: string, name: string): boolean => new RegExp(`(?<![\\w$])${name.replace(/\$/g, '\\$')}(?![\\w$])`).test(code);

describe('the docs', () => {
  it(`README.md has at most ${README_MAX_LINES} lines (the reference lives in docs/)`, () => {
    expect(lineCount(read(join(ROOT, 'README.md')))).toBeLessThanOrEqual(README_MAX_LINES);
  });

  it('every relative link in README.md and docs/*.md reaches a file, and a #fragment into Markdown a heading', () => {
    const all = markdownFiles.flatMap(links).filter((l) => !isExternal(l.target));
    expect(all.length).toBeGreaterThan(0);
    const broken = all.flatMap((l) => {
      const why = brokenReason(l);
      return why === undefined ? [] : [`${relative(ROOT, l.file)}:${l.line}: (${l.target}) ${why}`];
    });
    expect(broken).toEqual([]);
  });

  it("every runtime export of 'dmabuf' and 'dmabuf/testing' is named in docs/API.md, in code", async () => {
    const exported = [...Object.keys(await import('../../lib/index.js')), ...Object.keys(await import('../../lib/testing/index.js'))];
    expect(exported.length).toBeGreaterThan(20);
    const code = codeText(read(join(ROOT, 'docs', 'API.md')));
    expect(exported.filter((name) => !named(code, name))).toEqual([]);
  });

  it('the checks above would catch what they look for', () => {
    expect(lineCount('a\nb\n')).toBe(2);
    expect([
      ...anchors(
        '# The real-kernel suite\n## TypeScript and `using`\n```\n# not a heading\n```\n## Sharing: FdChannel, Memfd, worker threads\n## Sharing: FdChannel, Memfd, worker threads\n',
      ),
    ]).toEqual(['the-real-kernel-suite', 'typescript-and-using', 'sharing-fdchannel-memfd-worker-threads', 'sharing-fdchannel-memfd-worker-threads-1']);
    const readme = join(ROOT, 'README.md');
    expect(brokenReason({ file: readme, line: 1, target: 'docs/API.md#backends' })).toBeUndefined();
    expect(brokenReason({ file: readme, line: 1, target: 'docs/NOPE.md' })).toMatch(/no file docs\/NOPE\.md/);
    expect(brokenReason({ file: readme, line: 1, target: 'docs/API.md#nope' })).toMatch(/no heading #nope in docs\/API\.md/);
    expect(brokenReason({ file: readme, line: 1, target: '#nope' })).toMatch(/no heading #nope in README\.md/);
    expect(named(codeText('`DmaBuf.fromFd(3)`'), 'DmaBuf')).toBe(true);
    expect(named(codeText('DmaBuf in prose only, `DmaBufError` in code'), 'DmaBuf')).toBe(false);
    expect(named(codeText('```ts\nregion.rect({})\n```\n'), 'region')).toBe(true);
  });
});
