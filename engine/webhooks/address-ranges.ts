import { isIPv4, isIPv6 } from 'node:net';

// Which IP addresses a webhook may not reach unless its host is allowed by
// name. One pure function over parsed bytes, so the URL check at save time and
// the check of every resolved address at send time cannot disagree.

interface Range {
  readonly prefix: readonly number[];
  readonly bits: number;
  readonly label: string;
}

function v4(cidr: string, label: string): Range {
  const [address = '', bits = ''] = cidr.split('/');
  return { prefix: address.split('.').map(Number), bits: Number(bits), label };
}

/** IPv4 networks that lead into the machine, its private network or nowhere public. */
const REFUSED_IPV4: readonly Range[] = [
  v4('0.0.0.0/8', 'unspecified'), // "this network"; Linux connects 0.0.0.0 to the local host.
  v4('127.0.0.0/8', 'loopback'),
  v4('10.0.0.0/8', 'private'),
  v4('172.16.0.0/12', 'private'),
  v4('192.168.0.0/16', 'private'),
  v4('169.254.0.0/16', 'link-local'), // Holds the cloud metadata service, 169.254.169.254.
  v4('100.64.0.0/10', 'shared (CGNAT)'),
  v4('192.0.0.0/24', 'reserved'),
  v4('198.18.0.0/15', 'reserved'),
  v4('224.0.0.0/4', 'multicast'),
  v4('240.0.0.0/4', 'reserved or broadcast'), // Includes 255.255.255.255.
];

/** IPv6 networks refused outright; forms that embed an IPv4 address are judged by it. */
const REFUSED_IPV6: readonly Range[] = [
  { prefix: new Array<number>(16).fill(0), bits: 128, label: 'unspecified' },
  { prefix: [...new Array<number>(15).fill(0), 1], bits: 128, label: 'loopback' },
  { prefix: [0xfc], bits: 7, label: 'private' },
  { prefix: [0xfe, 0x80], bits: 10, label: 'link-local' },
  { prefix: [0xfe, 0xc0], bits: 10, label: 'site-local' },
  { prefix: [0xff], bits: 8, label: 'multicast' },
];

/** IPv6 prefixes whose last 32 bits are an IPv4 address the packet ends up at. */
const IPV4_EMBEDDING_PREFIXES: readonly Range[] = [
  { prefix: [...new Array<number>(10).fill(0), 0xff, 0xff], bits: 96, label: 'IPv4-mapped' },
  { prefix: new Array<number>(12).fill(0), bits: 96, label: 'IPv4-compatible' },
  { prefix: [0x00, 0x64, 0xff, 0x9b, ...new Array<number>(8).fill(0)], bits: 96, label: 'NAT64' },
];

function inRange(bytes: readonly number[], range: Range): boolean {
  for (let bit = 0; bit < range.bits; bit += 8) {
    const width = Math.min(8, range.bits - bit);
    const mask = (0xff << (8 - width)) & 0xff;
    if (((bytes[bit / 8] ?? 0) & mask) !== ((range.prefix[bit / 8] ?? 0) & mask)) return false;
  }
  return true;
}

function ipv4Bytes(address: string): number[] {
  return address.split('.').map(Number);
}

/** The 16 bytes of a valid IPv6 address, including the forms with a dotted IPv4 tail. */
function ipv6Bytes(address: string): number[] {
  let text = address;
  const tail: number[] = [];
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.', lastColon)) {
    const [a = 0, b = 0, c = 0, d = 0] = ipv4Bytes(text.slice(lastColon + 1));
    tail.push(a, b, c, d);
    text = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const [head = '', rest] = text.split('::');
  const groupsOf = (part: string) => (part === '' ? [] : part.split(':').map((group) => parseInt(group, 16)));
  const before = groupsOf(head);
  const after = rest === undefined ? [] : groupsOf(rest);
  const groups = [...before, ...new Array<number>(8 - before.length - after.length).fill(0), ...after];
  const bytes = groups.flatMap((group) => [group >> 8, group & 0xff]);
  if (tail.length === 4) bytes.splice(12, 4, ...tail);
  return bytes;
}

function describeV4(bytes: readonly number[]): string | null {
  return REFUSED_IPV4.find((range) => inRange(bytes, range))?.label ?? null;
}

/**
 * Says why an IP address must not be reached (`loopback`, `private`,
 * `link-local`, ...), or null for a public address. IPv4-mapped, -compatible
 * and NAT64 IPv6 forms are judged by the IPv4 address inside them. A zone
 * (`fe80::1%eth0`) is ignored. Anything that is not an IP address is refused,
 * so a caller's mistake fails closed.
 */
export function refusedAddressReason(address: string): string | null {
  const plain = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  if (isIPv4(plain)) return describeV4(ipv4Bytes(plain));
  if (!isIPv6(plain)) return 'not an IP address';
  const bytes = ipv6Bytes(plain);
  const own = REFUSED_IPV6.find((range) => inRange(bytes, range));
  if (own) return own.label;
  const embedding = IPV4_EMBEDDING_PREFIXES.find((range) => inRange(bytes, range));
  if (!embedding) return null;
  const inner = describeV4(bytes.slice(12));
  return inner === null ? null : `${embedding.label} ${inner}`;
}
