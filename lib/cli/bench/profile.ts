/**
 * Where a client process spent its time: reads the `.cpuprofile` V8 wrote for it
 * (`--cpu-prof`) and adds up self time per function, so the bench can say what one segment
 * costs and in which functions.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface FunctionCost {
  /** `name file:line`, the file relative to the package when it is inside it. */
  where: string;
  selfMs: number;
  /** Share of the process's busy time (idle excluded). */
  pct: number;
}

export interface ProfileSummary {
  file: string;
  busyMs: number;
  top: FunctionCost[];
}

export async function summarizeProfile(file: string, count = 15): Promise<ProfileSummary> {
  const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map<string, number>();
  let busy = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i]);
    // A sample's time is the delta to the next sample.
    const us = profile.timeDeltas[i + 1] ?? 0;
    if (!node || node.callFrame.functionName === '(idle)') continue;
    const key = describe(node);
    self.set(key, (self.get(key) ?? 0) + us);
    busy += us;
  }
  const top = [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([where, us]) => ({
      where,
      selfMs: Number((us / 1000).toFixed(1)),
      pct: busy > 0 ? Number(((us / busy) * 100).toFixed(1)) : 0,
    }));
  return { file, busyMs: Number((busy / 1000).toFixed(1)), top };
}

function describe(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const name = functionName || '(anonymous)';
  if (!url) return name;
  const file = url.startsWith('file://') ? url.slice('file://'.length) : url;
  const modules = file.lastIndexOf('/node_modules/');
  const short =
    modules >= 0
      ? file.slice(modules + '/node_modules/'.length)
      : file.includes('/dist/')
        ? file.slice(file.indexOf('/dist/') + 1)
        : path.basename(file);
  return `${name} ${short}:${lineNumber + 1}`;
}
