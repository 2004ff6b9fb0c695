import { mount } from 'svelte';
import './app.css';
import App from './App.svelte';
import { initTransport } from './lib/api';
import { app } from './lib/store.svelte';

await initTransport();
app.start();
export default mount(App, { target: document.getElementById('app')! });
