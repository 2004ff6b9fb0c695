import { mount } from 'svelte';
import './app.css';
import App from './App.svelte';
import { initTransport } from './lib/api';
import { app } from './lib/store.svelte';

await initTransport();
// Mounted once the board's first read is in (or shortly after), so it is built with its cards.
await app.start();
export default mount(App, { target: document.getElementById('app')! });
