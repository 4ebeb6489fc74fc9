/**
 * Builds the demo's default corpus from the project's own documentation: every Markdown file at the
 * repository root and under docs/, split into sections at headings (levels 1–3; long sections split
 * again at paragraphs), written to public/demo-corpus.json (git-ignored, rebuilt on every build).
 *
 *   npx tsx scripts/build-demo-corpus.ts
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export interface CorpusDoc {
  id: string;
  text: string;
  metadata: { file: string; title: string };
}

export interface DemoCorpus {
  sources: string[];
  docs: CorpusDoc[];
}

const MAX_CHARS = 1800;
export const CORPUS_FILE = 'public/demo-corpus.json';

/** Root-level *.md plus docs/**\/*.md, sorted, so the corpus is the same on every machine. */
export function markdownFiles(root: string): string[] {
  const out: string[] = [];
  for (const f of readdirSync(root)) if (f.endsWith('.md') && statSync(join(root, f)).isFile()) out.push(join(root, f));
  const walk = (dir: string) => {
    if (!existsSync(dir)) return;
    for (const f of readdirSync(dir)) {
      const p = join(dir, f);
      if (statSync(p).isDirectory()) walk(p);
      else if (f.endsWith('.md')) out.push(p);
    }
  };
  walk(join(root, 'docs'));
  return out.map((p) => relative(root, p).split('\\').join('/')).sort();
}

/** Splits one Markdown file into sections titled by their heading. */
export function splitSections(file: string, markdown: string): CorpusDoc[] {
  const sections: { title: string; lines: string[] }[] = [];
  let current = { title: file, lines: [] as string[] };
  let fenced = false;
  for (const line of markdown.replace(/\r\n?/g, '\n').split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    const heading = !fenced && /^(#{1,3})\s+(.+?)\s*#*\s*$/.exec(line);
    if (heading) {
      sections.push(current);
      current = { title: plain(heading[2]), lines: [] };
    } else current.lines.push(line);
  }
  sections.push(current);

  const docs: CorpusDoc[] = [];
  const used = new Set<string>();
  for (const s of sections) {
    const body = tidy(s.lines.join('\n'));
    if (!body) continue;
    for (const [i, part] of paragraphsUpTo(body, MAX_CHARS).entries()) {
      const title = i === 0 ? s.title : `${s.title} (continued)`;
      let id = `${file}#${slug(s.title)}${i ? `-${i + 1}` : ''}`;
      for (let n = 2; used.has(id); n++) id = `${file}#${slug(s.title)}-${i + 1}-${n}`;
      used.add(id);
      docs.push({ id, text: `${title}\n\n${part}`, metadata: { file, title } });
    }
  }
  return docs;
}

export function buildDemoCorpus(root: string): DemoCorpus {
  const sources = markdownFiles(root);
  return { sources, docs: sources.flatMap((f) => splitSections(f, readFileSync(join(root, f), 'utf8'))) };
}

export function writeDemoCorpus(root: string): DemoCorpus {
  const corpus = buildDemoCorpus(root);
  const out = join(root, CORPUS_FILE);
  mkdirSync(dirname(out), { recursive: true });
  const json = JSON.stringify(corpus);
  // Unchanged content is not rewritten, so a watching dev server doesn't reload for nothing.
  if (!existsSync(out) || readFileSync(out, 'utf8') !== json) writeFileSync(out, json);
  return corpus;
}

/**
 * Markdown syntax that only gets in the way of reading a result (link targets, images, comments, bold
 * markers), and hard-wrapped lines joined back into paragraphs; lists, tables and code keep their lines.
 */
function tidy(s: string): string {
  const text = s
    .replace(/<!--[\s\S]*?-->/g, '')
    .replace(/!\[[^\]]*\]\([^)]*\)/g, '')
    .replace(/\[([^\]]+)\]\([^)]*\)/g, '$1')
    .replace(/\*\*([^*\n]+)\*\*/g, '$1');
  return text
    .split(/\n{2,}/)
    .map((p) => (/^\s*(```|~~~|\|)/.test(p) ? p : p.replace(/\n(?!\s*([-*+]\s|\d+[.)]\s|\|))\s*/g, ' ')))
    .join('\n\n')
    .trim();
}

function plain(s: string): string {
  return tidy(s).replace(/[`*_]/g, '');
}

function slug(s: string): string {
  return (
    s
      .toLowerCase()
      .normalize('NFKD')
      .replace(/[^\p{L}\p{N}]+/gu, '-')
      .replace(/^-|-$/g, '') || 'section'
  );
}

/** Groups paragraphs into parts of at most `max` characters (a longer single paragraph stays whole). */
function paragraphsUpTo(text: string, max: number): string[] {
  const parts: string[] = [];
  let cur = '';
  for (const p of text.split(/\n\n+/)) {
    if (cur && cur.length + 2 + p.length > max) parts.push(cur), (cur = '');
    cur = cur ? `${cur}\n\n${p}` : p;
  }
  if (cur) parts.push(cur);
  return parts;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  const c = writeDemoCorpus(root);
  console.log(`demo corpus: ${c.docs.length} sections from ${c.sources.join(', ') || 'no Markdown files'} → ${CORPUS_FILE}`);
}
