// Playwright drives the library through this page; nothing here but the exports.
import * as m3 from '../../src/index.ts';

(window as any).m3 = m3;
(window as any).m3Ready = true;
