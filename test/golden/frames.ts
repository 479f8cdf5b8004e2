import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { readPcap } from '../../lib/link/pcap-reader.js';

const LINKTYPE_ETHERNET = 1;
// UTCP_GOLDEN_DIR points the tests at a fresh run of capture.sh, to check that they hold for
// any capture of the same exchange and not only for the committed one.
const directory =
  process.env.UTCP_GOLDEN_DIR !== undefined
    ? process.env.UTCP_GOLDEN_DIR.replace(/\/?$/, '/')
    : fileURLToPath(new URL('./', import.meta.url));

/** The frames of one committed capture (an Ethernet pcap made by capture.sh), in order. */
export function goldenFrames(name: string): Uint8Array[] {
  const file = readPcap(readFileSync(directory + name));
  if (file.error !== undefined) throw new Error(`${name}: ${file.error}`);
  if (file.linkType !== LINKTYPE_ETHERNET) throw new Error(`${name}: link type ${file.linkType}`);
  return file.records.map((record) => {
    if (record.data.length !== record.originalLength) throw new Error(`${name}: frame cut short`);
    return record.data;
  });
}

/** The frames of every committed capture. */
export function allGoldenFrames(): Uint8Array[] {
  return readdirSync(directory)
    .filter((name) => name.endsWith('.pcap'))
    .sort()
    .flatMap((name) => goldenFrames(name));
}
