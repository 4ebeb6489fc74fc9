/**
 * Fine-tuning panel (issue 5): tunes the open index's sparse head in the worker on pseudo-queries mined from
 * the indexed documents, plots the loss live, shows before/after on the held-out pairs and the postings per
 * document, and reverts to the base head. Builds its own section (no markup in index.html).
 */
import { type App, errorText } from '../app.ts';
import { readClicks } from '../clicks.ts';
import { byId, fill, h, say } from './dom.ts';
import type { TuneProgress, TuneResult } from '../../src/tune/tune.ts';
import type { WorkerHeadsInfo } from '../../src/worker/api.ts';

export function setupTunePanel(app: App): void {
  const tuneBtn = h('button', { type: 'button', id: 'tune-start' }, 'Tune on my documents');
  const cancelBtn = h('button', { type: 'button', id: 'tune-cancel', disabled: true }, 'Cancel');
  const revertBtn = h('button', { type: 'button', id: 'tune-revert', disabled: true }, 'Revert to the base head');
  const canvas = h('canvas', { id: 'tune-curve', width: 320, height: 120, role: 'img', 'aria-label': 'training loss per step' });
  const status = h('p', { id: 'tune-msg', class: 'msg', role: 'status' });
  const table = h('dl', { id: 'tune-metrics', class: 'stats' });
  const section = h(
    'section',
    { class: 'panel', 'aria-labelledby': 'tune-h', id: 'tune-panel' },
    h('h2', { id: 'tune-h' }, 'Fine-tune'),
    h(
      'p',
      { class: 'help' },
      'Trains the sparse head on questions mined from your own documents (a sentence held out of each). Runs on this device; nothing is uploaded.',
    ),
    h('div', { class: 'row' }, tuneBtn, cancelBtn, revertBtn),
    canvas,
    status,
    table,
  );
  (byId('storage-h').closest('section') ?? document.body).after(section);

  const losses: number[] = [];
  let running: AbortController | null = null;

  const draw = () => {
    const ctx = canvas.getContext('2d');
    if (!ctx) return;
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    if (losses.length < 2) return;
    const max = losses.reduce((a, b) => Math.max(a, b), -Infinity);
    const min = losses.reduce((a, b) => Math.min(a, b), Infinity);
    ctx.strokeStyle = getComputedStyle(canvas).color || '#36c';
    ctx.beginPath();
    losses.forEach((l, i) => {
      const x = (i / (losses.length - 1)) * (canvas.width - 4) + 2;
      const y = canvas.height - 2 - ((l - min) / (max - min || 1)) * (canvas.height - 4);
      if (i === 0) ctx.moveTo(x, y);
      else ctx.lineTo(x, y);
    });
    ctx.stroke();
  };

  let last: TuneResult | undefined;
  const show = (heads: WorkerHeadsInfo, given?: TuneResult) => {
    if (given) last = given;
    // The last run's figures stay while its head is the active one.
    const r = given ?? (last && heads.active?.version === last.version ? last : undefined);
    const rows: [string, string][] = [['Active head', heads.active ? `tuned v${heads.active.version} (${heads.active.hash.slice(0, 8)})` : 'base (as loaded)']];
    rows.push(['Postings per document', r ? `${r.postingsPerDoc.before.toFixed(1)} → ${r.postingsPerDoc.after.toFixed(1)}` : heads.postingsPerDoc.toFixed(1)]);
    if (r) {
      rows.push(['Held-out nDCG@10', `${r.heldOut.before.ndcg10.toFixed(3)} → ${r.heldOut.after.ndcg10.toFixed(3)} (${r.heldOut.after.pairs} pairs)`]);
      rows.push(['Held-out MRR@10', `${r.heldOut.before.mrr10.toFixed(3)} → ${r.heldOut.after.mrr10.toFixed(3)}`]);
      const src = r.pairs.bySource;
      rows.push(['Training pairs', `${r.pairs.train + r.pairs.heldOut}: ${src.click ?? 0} from your clicks, ${(src.title ?? 0) + (src.sentence ?? 0)} mined`]);
      rows.push(['Training', `${r.training.status}, ${r.training.epochs} epoch(s), ${(r.ms.total / 1000).toFixed(1)} s`]);
      rows.push(['Training compute', r.compute.used === 'webgpu' ? 'WebGPU' : `JS${r.compute.reason ? ` (${r.compute.reason})` : ''}`]);
    }
    fill(table, ...rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
    revertBtn.disabled = !heads.active || !!running;
  };

  const refresh = async () => {
    if (!app.indexReady) return;
    try {
      show(await app.client.heads());
    } catch {
      /* no index yet */
    }
  };

  tuneBtn.addEventListener('click', async () => {
    running = new AbortController();
    tuneBtn.disabled = revertBtn.disabled = true;
    cancelBtn.disabled = false;
    losses.length = 0;
    draw();
    say(status, 'Mining questions from the documents…');
    try {
      // Results the user opened train too (source "click"), beside the mined pseudo-queries.
      const clicks = app.encoder ? readClicks(app.indexName(app.encoder)) : [];
      const r = await app.client.tune({
        clicks,
        pseudoQueries: true,
        signal: running.signal,
        onProgress: (p: TuneProgress) => {
          if (p.phase === 'train' && p.loss !== undefined && p.heldOut === undefined) {
            losses.push(p.loss);
            draw();
          }
          const held = p.heldOut !== undefined ? `, held-out nDCG@10 ${p.heldOut.toFixed(3)}` : '';
          say(status, `${p.phase} ${p.done}/${p.total}${p.epoch ? ` · epoch ${p.epoch}` : ''}${held}`);
        },
      });
      if (r.status === 'tuned') say(status, `Tuned head v${r.version} is active.`, 'ok');
      else say(status, `Tuning stopped: ${r.reason}. The previous head is still in use.`, 'error');
      show(await app.client.heads(), r);
    } catch (e) {
      const cancelled = (e as { name?: string })?.name === 'AbortError' || /abort/i.test(errorText(e));
      say(status, cancelled ? 'Cancelled: the active head and the index are unchanged.' : `Tuning failed: ${errorText(e)}`, cancelled ? 'info' : 'error');
      await refresh();
    } finally {
      running = null;
      tuneBtn.disabled = !app.indexReady;
      cancelBtn.disabled = true;
      await refresh();
    }
  });

  cancelBtn.addEventListener('click', () => running?.abort());

  revertBtn.addEventListener('click', async () => {
    revertBtn.disabled = tuneBtn.disabled = true;
    say(status, 'Re-making the sparse postings with the base head…');
    try {
      show(await app.client.revertTune((p) => say(status, `reindex ${p.done}/${p.total}`)));
      say(status, 'Back to the base head.', 'ok');
    } catch (e) {
      say(status, `Revert failed: ${errorText(e)}`, 'error');
    } finally {
      tuneBtn.disabled = !app.indexReady;
    }
  });

  app.on((what) => {
    tuneBtn.disabled = !app.indexReady || app.indexing || !!running;
    if (what === 'index') void refresh();
  });
  tuneBtn.disabled = true;
}
