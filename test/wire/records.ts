import { EthernetHeader } from '../../lib/wire/ethernet.js';

/** An Ethernet header record; with `vlanTci` >= 0 it carries an 802.1Q tag with that TCI. */
export function ethernetHeader(
  dst: number,
  src: number,
  etherType: number,
  vlanTci = -1,
): EthernetHeader {
  const header = new EthernetHeader();
  header.dst = dst;
  header.src = src;
  header.etherType = etherType;
  header.vlan = vlanTci >= 0;
  if (header.vlan) {
    header.vlanPriority = vlanTci >>> 13;
    header.vlanDropEligible = (vlanTci & 0x1000) !== 0;
    header.vlanId = vlanTci & 0xfff;
  }
  return header;
}
