import { refusedAddressReason } from '../../../engine/webhooks/address-ranges';

describe('which addresses a webhook may not reach', () => {
  it.each([
    ['0.0.0.0', 'unspecified'],
    ['0.255.255.255', 'unspecified'],
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['10.0.0.0', 'private'],
    ['10.255.255.255', 'private'],
    ['172.16.0.0', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.0.1', 'private'],
    ['169.254.169.254', 'link-local'],
    ['100.64.0.0', 'shared (CGNAT)'],
    ['100.127.255.255', 'shared (CGNAT)'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.255', 'multicast'],
    ['255.255.255.255', 'reserved or broadcast'],
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['[::1]', 'loopback'],
    ['fc00::', 'private'],
    ['fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'private'],
    ['fe80::1', 'link-local'],
    ['febf::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['fec0::1', 'site-local'],
    ['feff::1', 'site-local'],
    ['ff02::1', 'multicast'],
    ['::ffff:127.0.0.1', 'IPv4-mapped loopback'],
    ['::ffff:7f00:1', 'IPv4-mapped loopback'],
    ['::ffff:10.0.0.1', 'IPv4-mapped private'],
    ['::ffff:a9fe:a9fe', 'IPv4-mapped link-local'],
    ['0:0:0:0:0:ffff:192.168.1.1', 'IPv4-mapped private'],
    ['::ffff:0.0.0.0', 'IPv4-mapped unspecified'],
    ['::ffff:100.64.0.1', 'IPv4-mapped shared (CGNAT)'],
    ['::ffff:255.255.255.255', 'IPv4-mapped reserved or broadcast'],
    ['::10.0.0.1', 'IPv4-compatible private'],
    ['64:ff9b::a9fe:a9fe', 'NAT64 link-local'],
  ])('refuses %s (%s)', (address, reason) => {
    expect(refusedAddressReason(address)).toBe(reason);
  });

  it.each([
    '1.1.1.1', '8.8.8.8', '93.184.216.34',
    '9.255.255.255', '11.0.0.0', // around 10/8
    '172.15.255.255', '172.32.0.0', // around 172.16/12
    '192.167.255.255', '192.169.0.0', // around 192.168/16
    '169.253.255.255', '169.255.0.0', // around 169.254/16
    '100.63.255.255', '100.128.0.0', // around 100.64/10
    '126.255.255.255', '128.0.0.0', // around 127/8
    '1.0.0.0', '223.255.255.255', // around 0/8 and 224/4
    '2606:4700:4700::1111', '2001:db8::1', 'fbff:ffff::1', 'fe7f:ffff::1', // around fc00::/7 and fe80::/10
    '::ffff:8.8.8.8', '64:ff9b::808:808',
  ])('lets %s through', (address) => {
    expect(refusedAddressReason(address)).toBeNull();
  });

  it('refuses what is not an IP address, so a mistake fails closed', () => {
    expect(refusedAddressReason('hooks.example.com')).toBe('not an IP address');
    expect(refusedAddressReason('')).toBe('not an IP address');
  });
});
