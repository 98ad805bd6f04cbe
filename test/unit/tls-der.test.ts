import { describe, expect, it } from 'vitest';
import { bitString, contextTag, namedBitString, objectIdentifier, sequence, time, tlv, unsignedInteger } from '../../src/tls/der.ts';

const hex = (b: Buffer) => b.toString('hex');

describe('DER encoders', () => {
  it('encodes short, one-byte and two-byte lengths minimally', () => {
    expect(hex(tlv(0x04, Buffer.alloc(3)))).toBe('0403000000');
    expect(hex(tlv(0x04, Buffer.alloc(127))).slice(0, 4)).toBe('047f');
    expect(hex(tlv(0x04, Buffer.alloc(128))).slice(0, 6)).toBe('048180');
    expect(hex(tlv(0x04, Buffer.alloc(255))).slice(0, 6)).toBe('0481ff');
    expect(hex(tlv(0x04, Buffer.alloc(256))).slice(0, 8)).toBe('04820100');
    expect(hex(tlv(0x04, Buffer.alloc(70000))).slice(0, 10)).toBe('0483011170');
    expect(hex(sequence())).toBe('3000');
  });

  it('encodes object identifiers, including multi-byte arcs', () => {
    expect(hex(objectIdentifier('2.5.29.17'))).toBe('0603551d11');
    expect(hex(objectIdentifier('1.2.840.10045.4.3.2'))).toBe('06082a8648ce3d040302');
    expect(hex(objectIdentifier('1.2.840.113549.1.1.11'))).toBe('06092a864886f70d01010b');
    expect(hex(objectIdentifier('1.3.6.1.5.5.7.3.1'))).toBe('06082b06010505070301');
  });

  it('encodes unsigned integers minimally and never negative', () => {
    expect(hex(unsignedInteger(Buffer.from([2])))).toBe('020102');
    expect(hex(unsignedInteger(Buffer.from([0x80, 1])))).toBe('0203008001');
    expect(hex(unsignedInteger(Buffer.from([0, 0, 0x7f])))).toBe('02017f');
    expect(hex(unsignedInteger(Buffer.from([0, 0x80])))).toBe('02020080');
    expect(hex(unsignedInteger(Buffer.from([0])))).toBe('020100');
  });

  it('encodes key usage bits with the unused-bit count DER requires', () => {
    expect(hex(namedBitString([0]))).toBe('03020780'); // digitalSignature
    expect(hex(namedBitString([0, 2]))).toBe('030205a0'); // + keyEncipherment
    expect(hex(namedBitString([5, 6]))).toBe('03020106'); // keyCertSign + cRLSign
    expect(hex(namedBitString([8]))).toBe('0303070080'); // decipherOnly
    expect(hex(bitString(Buffer.from([0xab])))).toBe('030200ab');
  });

  it('uses UTCTime through 2049 and GeneralizedTime from 2050, in whole seconds', () => {
    expect(time(new Date('2026-11-23T12:34:56.789Z')).toString('latin1')).toBe('\x17\x0d261123123456Z');
    expect(time(new Date('2049-12-31T23:59:59Z')).toString('latin1')).toBe('\x17\x0d491231235959Z');
    expect(time(new Date('2050-01-01T00:00:00Z')).toString('latin1')).toBe('\x18\x0f20500101000000Z');
  });

  it('tags context-specific values as constructed or primitive', () => {
    expect(hex(contextTag(0, true, unsignedInteger(Buffer.from([2]))))).toBe('a003020102');
    expect(hex(contextTag(2, false, Buffer.from('a.io')))).toBe('8204612e696f');
  });
});
