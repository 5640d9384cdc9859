/** Packets to byte streams: link layer, IPv4/IPv6 and TCP decoding, TCP reassembly. Pure, no I/O. */
export * from './address.js';
export * from './decode.js';
export * from './link.js';
export * from './seq.js';
export * from './tcp-reassembler.js';
