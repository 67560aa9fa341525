// The classic-script build: `window.traceflow`, started by its own tag's `data-key`.

import { autostart, init } from './index';

(globalThis as unknown as { traceflow: { init: typeof init } }).traceflow = { init };
autostart();
