import { describe, expect, it } from 'vitest';
import { splitSections } from './build-demo-corpus.ts';

describe('demo corpus sections', () => {
  it('splits at headings (not inside code fences), tidies Markdown, keeps ids unique', () => {
    const md = [
      '# Title',
      'Intro that is',
      'hard-wrapped.',
      '',
      '## Usage',
      '```bash',
      '# not a heading',
      'npm run demo',
      '```',
      '',
      'See [the docs](https://x.y/z) and **bold**.',
      '',
      '## Usage',
      '- item one',
      '- item two',
    ].join('\n');
    const docs = splitSections('README.md', md);
    expect(docs.map((d) => d.id)).toEqual(['README.md#title', 'README.md#usage', 'README.md#usage-1-2']);
    expect(docs[0].text).toBe('Title\n\nIntro that is hard-wrapped.');
    expect(docs[1].text).toContain('# not a heading\nnpm run demo');
    expect(docs[1].text).toContain('See the docs and bold.');
    expect(docs[2].text).toBe('Usage\n\n- item one\n- item two');
    expect(docs[0].metadata).toEqual({ file: 'README.md', title: 'Title' });
  });

  it('splits a long section at paragraphs into continued parts', () => {
    const para = 'word '.repeat(200).trim();
    const docs = splitSections('DESIGN.md', `## Long\n\n${[para, para, para].join('\n\n')}`);
    expect(docs.length).toBe(3); // ~1,000 characters each: two would pass the 1,800 limit
    expect(docs[1].metadata.title).toBe('Long (continued)');
    expect(docs[1].text.startsWith('Long (continued)\n\n')).toBe(true);
    expect(docs.every((d) => d.text.length <= 1800 + 40)).toBe(true);
  });
});
