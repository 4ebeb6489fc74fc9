/**
 * The analyzer's ASCII fast path against Chromium's own Intl.Segmenter (Chromium tailors ICU's word
 * rules: "a.b" and "a:b" break there, unlike Node). Bundles src/rank/analyzer.ts, then in headless
 * Chromium: which mid characters the runtime joins, the fast path's words vs the segmenter's on
 * 20,000 random ASCII strings plus Cranfield and this repository's code, and analyze() with the fast
 * path on vs off. Exits 1 on any difference.
 *
 *   npx tsx bench/analyzer-ascii-chromium.ts
 */
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
import { readFileSync, readdirSync } from 'node:fs';
import { BASE_ARGS, CHROMIUM } from '../playwright.config.ts';
const out = await build({ entryPoints: ['src/rank/analyzer.ts'], bundle: true, format: 'iife', globalName: 'AN', write: false, platform: 'browser' });
const code = out.outputFiles[0].text;
const cran = readFileSync(new URL('../data/cranfield/cran.all.1400', import.meta.url), 'utf8').split('\n.I ');
const code2 = readdirSync('src/rank')
  .filter((f) => f.endsWith('.ts'))
  .map((f) => readFileSync('src/rank/' + f, 'utf8').replace(/[^\x00-\x7f]/g, ' '));
const b = await chromium.launch({ executablePath: CHROMIUM, args: BASE_ARGS });
const p = await b.newPage();
await p.addScriptTag({ content: 'window.__name = (f) => f;' + code });
const res = await p.evaluate(
  ({ real }) => {
    const AN = (globalThis as any).AN;
    const rules = AN.asciiRulesInUse();
    if (!rules) return { active: false };
    const seg = new Intl.Segmenter(undefined, { granularity: 'word' });
    const sw = (t: string) => {
      const o: string[] = [];
      for (const s of seg.segment(t)) if (s.isWordLike) o.push(s.index + '+' + s.segment);
      return o.join('|');
    };
    const fw = (t: string) => {
      const o: string[] = [];
      AN.forEachAsciiWord(t, (a: number, b: number) => o.push(a + '+' + t.slice(a, b)), rules);
      return o.join('|');
    };
    let a = 7;
    const r = () => {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const hot = "aZ9_:.',; \t\n\r'sS";
    const bad: string[] = [];
    let checked = 0;
    for (let i = 0; i < 20000; i++) {
      let s = '';
      const len = 1 + Math.floor(r() * 40);
      for (let j = 0; j < len; j++) {
        const x = r();
        s +=
          x < 0.55 ? hot[Math.floor(r() * hot.length)] : x < 0.85 ? String.fromCharCode(97 + Math.floor(r() * 26)) : String.fromCharCode(Math.floor(r() * 128));
      }
      checked++;
      if (sw(s) !== fw(s)) bad.push(JSON.stringify(s));
    }
    for (const t of real) {
      checked++;
      if (sw(t) !== fw(t)) bad.push('real:' + t.slice(0, 80));
    }
    // analyzer end to end: fast vs segmenter path
    let tokBad = 0;
    for (const t of real.slice(0, 400)) {
      const f = JSON.stringify(AN.analyze(t));
      AN.analyzerInternals.asciiFastPath = false;
      const s2 = JSON.stringify(AN.analyze(t));
      AN.analyzerInternals.asciiFastPath = true;
      if (f !== s2) tokBad++;
    }
    return {
      active: true,
      letters: [...":.',;"].filter((c) => rules.betweenLetters[c.charCodeAt(0)]),
      digits: [...":.',;"].filter((c) => rules.betweenDigits[c.charCodeAt(0)]),
      checked,
      bad: bad.slice(0, 5),
      nbad: bad.length,
      tokBad,
    };
  },
  { real: [...cran, ...code2] },
);
console.log(JSON.stringify(res));
await b.close();
if (!res.active || res.nbad || res.tokBad) process.exit(1);
