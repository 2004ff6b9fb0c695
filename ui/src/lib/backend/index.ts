// Picks the transport: the desktop app's webview has `__TAURI_INTERNALS__`; a browser on
// `reviewdesk serve` does not. The desktop transport (and `@tauri-apps/api`) is a separate chunk,
// loaded only in the desktop app.
import type { Transport } from './transport';
import { WebTransport } from './web';

/** True inside the desktop app's webview. */
export function inDesktopApp(): boolean {
  return typeof window !== 'undefined' && '__TAURI_INTERNALS__' in window;
}

export async function createTransport(): Promise<Transport> {
  if (inDesktopApp()) {
    const { TauriTransport } = await import('./tauri');
    return new TauriTransport();
  }
  return new WebTransport('');
}

export { WebTransport };
export * from './transport';
