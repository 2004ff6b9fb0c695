import { mount } from 'svelte';
import './app.css';
import App from './App.svelte';
import { app } from './lib/store.svelte';

app.start();
export default mount(App, { target: document.getElementById('app')! });
