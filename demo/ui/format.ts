export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return 'unknown';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) (n /= 1024), i++;
  return `${n.toFixed(n >= 100 || i === 0 ? 0 : 1)} ${units[i]}`;
}

export function seconds(s: number): string {
  if (!Number.isFinite(s)) return '…';
  if (s < 1) return 'under a second';
  if (s < 90) return `${Math.round(s)} s`;
  return `${Math.round(s / 60)} min`;
}

export function ms(t: number): string {
  return t < 10 ? `${t.toFixed(1)} ms` : `${Math.round(t)} ms`;
}

export function score(x: number): string {
  return Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(3);
}
