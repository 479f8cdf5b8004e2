// The quick simulation set run by `npm test`; `npm run test:sim -- --seeds N` runs more.

import { describe, expect, it } from 'vitest';
import { noImpairment, SimNetwork } from './network.js';
import { runTransfer, scenarioForSeed } from './transfer.js';
import { TcpEvent } from '../../lib/tcp/core.js';

describe('simulation: two cores over an impaired network', () => {
  it('transfers both ways without impairment', () => {
    const r = runTransfer({
      seed: 1,
      connections: 2,
      upload: 200_000,
      download: 100_000,
      impairment: noImpairment,
    });
    expect(r.failure).toBeNull();
    expect(r.retransmissions).toBe(0);
  });

  it('survives heavy loss, duplication and reordering with wraparound-prone sizes', () => {
    const r = runTransfer({
      seed: 7,
      connections: 2,
      upload: 300_000,
      download: 300_000,
      impairment: {
        ...noImpairment,
        loss: 0.1,
        duplicate: 0.05,
        reorder: 0.1,
        reorderDelay: 20_000,
        delay: 5_000,
        corrupt: 0.01,
      },
      params: { rtoMin: 200_000 },
      isnBelowWrap: 50_000,
    });
    expect(r.failure).toBeNull();
    expect(r.retransmissions).toBeGreaterThan(0);
  });

  it('marks ECN-capable frames CE instead of losing them, and the transfer completes', () => {
    const r = runTransfer({
      seed: 11,
      connections: 1,
      upload: 300_000,
      download: 100_000,
      impairment: { ...noImpairment, congestionMark: 0.05, loss: 0.01, rate: 12.5 },
      params: { ecn: 'on' },
    });
    expect(r.failure).toBeNull();
    expect(r.ceReceived).toBeGreaterThan(0);
  });

  it('passes 60 random seeds (sizes, buffers, options, impairment)', () => {
    for (let seed = 1; seed <= 60; seed++) {
      const r = runTransfer(scenarioForSeed(seed));
      expect(r.failure, `seed ${seed}`).toBeNull();
    }
  });

  it('is deterministic: the same seed gives the same run', () => {
    const a = runTransfer(scenarioForSeed(42));
    const b = runTransfer(scenarioForSeed(42));
    expect(a).toEqual(b);
  });

  it('reports ECONNREFUSED for a closed port and ETIMEDOUT on a dead path', () => {
    const net = new SimNetwork(3, noImpairment);
    const a = net.addNode(1, {});
    net.addNode(2, {});
    const refused = a.core.connect(0, { remoteAddress: 2, remotePort: 9, localAddress: 1 });
    net.run(() => refused.released, 10_000_000);
    expect(refused.error).toBe('ECONNREFUSED');

    const dead = new SimNetwork(4, { ...noImpairment, loss: 1 });
    const b = dead.addNode(1, { connectionTimeout: 20_000_000 });
    const lost = b.core.connect(0, { remoteAddress: 2, remotePort: 9, localAddress: 1 });
    dead.run(() => lost.released, 100_000_000);
    expect(lost.error).toBe('ETIMEDOUT');
    expect(b.pending.map((e) => e.kind)).toEqual([TcpEvent.TIMED_OUT, TcpEvent.CLOSED]);
    expect(b.core.connectionCount + b.core.portsInUse + b.core.timersArmed).toBe(0);
  });
});
