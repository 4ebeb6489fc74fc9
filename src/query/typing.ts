/**
 * Search as you type: the query for a search box whose last word is still being typed. That word becomes a
 * prefix ("wi" → "wi*"), so results appear before it is finished; an open phrase is closed ("\"boundary la"
 * → "\"boundary la\""); an operator with nothing after it yet is left out ("wing -" → "wing"). Text that
 * ends in a space, or a last word that already has an operator of its own (*, ~, a closing quote), stays.
 */
export function asYouType(text: string): string {
  // An open phrase (an odd number of unescaped quotes): close it, or drop it while it holds no word yet.
  let quotes = 0;
  let lastQuote = -1;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === '"') quotes++, (lastQuote = i);
  }
  if (quotes % 2 === 1) {
    if (!/[\p{L}\p{N}]/u.test(text.slice(lastQuote + 1))) return text.slice(0, lastQuote).replace(/[+-]$/, '').trimEnd();
    return text.endsWith('\\') ? `${text.slice(0, -1)}"` : `${text}"`;
  }
  if (text === '' || /\s$/u.test(text)) return text;
  const start = Math.max(text.lastIndexOf(' '), text.lastIndexOf('\t'), text.lastIndexOf('\n')) + 1;
  const word = text.slice(start);
  if (/^[+-]$/.test(word)) return text.slice(0, start).trimEnd();
  if (/["*~\\]|~[12]$/.test(word) || !/[\p{L}\p{N}]/u.test(word)) return text;
  return `${text}*`;
}
