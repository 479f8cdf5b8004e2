import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ethernetHeader } from './records.js';
import {
  BROADCAST_MAC,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  EthernetHeader,
  formatMac,
  isMulticastMac,
  macBytes,
  parseEthernet,
  parseMac,
  readMac,
  writeEthernet,
  writeMac,
} from '../../lib/wire/ethernet.js';

const mac = fc.nat(2 ** 48 - 1);

describe('Ethernet', () => {
  it('round-trips untagged and 802.1Q-tagged headers', () => {
    fc.assert(
      fc.property(
        mac,
        mac,
        fc.integer({ min: 0x0600, max: 0xffff }).filter((t) => t !== 0x8100),
        fc.option(fc.nat(0xffff), { nil: undefined }),
        fc.nat(64),
        fc.nat(100),
        (dst, src, etherType, tci, pad, payload) => {
          const buf = new Uint8Array(pad + 18 + payload);
          const headerLength = writeEthernet(
            buf,
            pad,
            ethernetHeader(dst, src, etherType, tci ?? -1),
          );
          expect(headerLength).toBe(tci === undefined ? 14 : 18);
          const length = headerLength + payload;
          const h = new EthernetHeader();
          expect(parseEthernet(buf, pad, length, h)).toBeUndefined();
          expect(h.dst).toBe(dst);
          expect(h.src).toBe(src);
          expect(h.etherType).toBe(etherType);
          expect(h.vlan).toBe(tci !== undefined);
          if (tci !== undefined) {
            expect(h.vlanId).toBe(tci & 0xfff);
            expect(h.vlanPriority).toBe(tci >>> 13);
            expect(h.vlanDropEligible).toBe((tci & 0x1000) !== 0);
          }
          expect(h.headerLength).toBe(headerLength);
          expect(h.payloadOffset).toBe(pad + headerLength);
          expect(h.payloadLength).toBe(payload);
        },
      ),
    );
  });

  it('names short and non-Ethernet-II frames', () => {
    const h = new EthernetHeader();
    expect(parseEthernet(new Uint8Array(13), 0, 13, h)).toBe('eth-truncated');
    expect(parseEthernet(new Uint8Array(20), 10, 14, h)).toBe('eth-truncated');
    const tagged = new Uint8Array(17);
    writeEthernet(tagged, 0, ethernetHeader(1, 2, ETHERTYPE_IPV4, 5));
    expect(parseEthernet(tagged, 0, 17, h)).toBe('eth-truncated');
    const llc = new Uint8Array(60);
    llc[12] = 0x00;
    llc[13] = 46; // an IEEE 802.3 length, not a type
    expect(parseEthernet(llc, 0, 60, h)).toBe('eth-not-ethernet-ii');
    expect(parseEthernet(new Uint8Array(14), 0, 14, h)).toBe('eth-not-ethernet-ii');
  });

  it('reads, writes, formats and parses MAC addresses', () => {
    fc.assert(
      fc.property(mac, (m) => {
        const buf = new Uint8Array(8);
        writeMac(buf, 1, m);
        expect(readMac(buf, 1)).toBe(m);
        expect(parseMac(formatMac(m))).toBe(m);
        expect(readMac(macBytes(m), 0)).toBe(m);
      }),
    );
    expect(formatMac(0x02005e100001)).toBe('02:00:5e:10:00:01');
    expect(parseMac('02-00-5E-10-00-01')).toBe(0x02005e100001);
    expect(parseMac('02:00:5e:10:00')).toBeUndefined();
    expect(parseMac('02:00-5e:10:00:01')).toBeUndefined();
    expect(parseMac('zz:00:5e:10:00:01')).toBeUndefined();
    expect(isMulticastMac(BROADCAST_MAC)).toBe(true);
    expect(isMulticastMac(0x01005e000001)).toBe(true);
    expect(isMulticastMac(0x02005e000001)).toBe(false);
    expect(ETHERTYPE_ARP).toBe(0x0806);
  });
});
