// Only so that worker-sender.ts (moved to worker/client.ts on another branch, importing ./sender.js)
// compiles until that move is merged: delete this file then.
export type { OutcomeCallback, Sender } from './sender.js';
