import { describe, expect, it } from 'vitest';
import { loadNative } from '../lib/link/native.js';

describe('native addon', () => {
  it('loads the compiled addon', () => {
    expect(loadNative().abiVersion).toBe(1);
  });
});
