import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** The compiled addon: from `prebuilds/` when one matches, else from `build/Release`. */
export interface NativeAddon {
  abiVersion: number;
  [name: string]: unknown;
}

let addon: NativeAddon | undefined;

export function loadNative(): NativeAddon {
  if (addon) return addon;
  const require = createRequire(import.meta.url);
  const nodeGypBuild = require('node-gyp-build') as (dir: string) => NativeAddon;
  addon = nodeGypBuild(packageRoot());
  return addon;
}

function packageRoot(): string {
  // This file is lib/link/native.ts in the source tree and dist/lib/link/native.js when built.
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    if (path.basename(dir) === 'lib') {
      const parent = path.dirname(dir);
      return path.basename(parent) === 'dist' ? path.dirname(parent) : parent;
    }
    dir = path.dirname(dir);
  }
  throw new Error('utcp: cannot find the package root from ' + fileURLToPath(import.meta.url));
}
