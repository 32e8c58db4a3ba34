// Placeholder; replaced below.
import type { Plugin } from 'vite';
export function mockPlugin(): Plugin {
  return { name: 'fluoro-mock' };
}
