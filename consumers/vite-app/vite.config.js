import { defineConfig } from 'vite';
import m3search from 'm3-search/vite';

export default defineConfig({ plugins: [m3search()] });
