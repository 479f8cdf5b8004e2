export * from './link/types.js';
export { loadNative } from './link/native.js';
