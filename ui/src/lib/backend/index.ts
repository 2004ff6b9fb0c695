// Picks the transport. The desktop issue adds `./tauri.ts` (a `Transport` over `invoke` and
// `listen`) and returns it here when `'__TAURI_INTERNALS__' in window`.
import type { Transport } from './transport';
import { WebTransport } from './web';

export function createTransport(): Transport {
  return new WebTransport('');
}

export * from './transport';
