// What sluice's DNS listener answers to one query. Nothing is ever forwarded: an allowlisted
// name is answered from sluice's own (checked) resolver, any other name gets a sinkhole address
// or NXDOMAIN without anyone else being asked, so a query cannot carry data out of the
// namespace (DESIGN.md §1, §2 `[dns] deny`).
import dnsPacket from 'dns-packet';
import type { Answer, DecodedPacket, OptAnswer, Question } from 'dns-packet';
import { normalizeHost } from '../names/host.ts';
import { SluiceError, type DenyReason } from '../errors/codes.ts';

/** Sinkhole answers: captured by the nat rules and refused by sluice with a clear 403. */
export const SINKHOLE_A = '198.18.255.254';
export const SINKHOLE_AAAA = '100::1';
/** Short, so that a policy reload takes effect in clients' caches quickly. */
export const ANSWER_TTL_SECONDS = 30;

export interface DnsPolicy {
  isAllowed: (name: string) => boolean;
  resolve: (name: string) => Promise<{ address: string; family: 4 | 6 }[]>;
  deny: 'sinkhole' | 'nxdomain';
}

export interface DnsLogRecord {
  name: string;
  type: string;
  decision: 'allow' | 'deny';
  reason?: DenyReason;
  answers?: number;
}

export interface DnsReply {
  /** Wire-format response, or undefined when the packet deserves no answer. */
  response: Buffer | undefined;
  record: DnsLogRecord;
}

const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4 } as const;
const FLAG_RD = 0x0100;
const FLAG_RA = 0x0080;
const OPCODE_QUERY = 'QUERY';
/** Classic DNS over UDP without EDNS (RFC 1035 §4.2.1). */
const UDP_CLASSIC_MAX = 512;
/** The EDNS buffer size recommended by DNS Flag Day 2020: avoids IP fragmentation. */
const UDP_EDNS_MAX = 1232;

/**
 * Answers one wire-format query. `transport` decides the size limit: UDP responses that do not
 * fit are truncated (TC set) so that the client retries over TCP.
 */
export async function answerDnsQuery(
  wire: Buffer, policy: DnsPolicy, transport: 'udp' | 'tcp', resolveTimeoutMs = 5_000,
): Promise<DnsReply> {
  let query: DecodedPacket;
  try {
    query = dnsPacket.decode(wire);
  } catch {
    return { response: undefined, record: { name: '', type: '', decision: 'deny', reason: 'bad_request' } };
  }
  // Never answer a response: two resolvers pointed at each other would loop.
  if (query.type === 'response') {
    return { response: undefined, record: { name: '', type: '', decision: 'deny', reason: 'bad_request' } };
  }
  const question = query.questions?.[0];
  const opcode = (query as DecodedPacket & { opcode?: string }).opcode;
  // The policy's normal form (src/names/host.ts). A name that has none (a stray character, a
  // label over 63 octets, broken punycode) can match no rule: it is denied, and logged as asked.
  const asked = question?.name ?? '';
  const normal = normalizeHost(asked);
  const name = normal ?? asked;
  const type = question?.type ?? '';
  const reply = (rcode: number, answers: Answer[], record: DnsLogRecord): DnsReply => ({
    response: encodeResponse(query, question, rcode, answers, transport),
    record,
  });

  if (opcode !== OPCODE_QUERY) {
    return reply(RCODE.NOTIMP, [], { name, type, decision: 'deny', reason: 'bad_request' });
  }
  if (!question || query.questions?.length !== 1) {
    return reply(RCODE.FORMERR, [], { name, type, decision: 'deny', reason: 'bad_request' });
  }

  if (normal === undefined || !policy.isAllowed(normal)) {
    if (policy.deny === 'nxdomain') {
      return reply(RCODE.NXDOMAIN, [], { name, type, decision: 'deny', reason: 'not_allowlisted' });
    }
    const sinkhole = sinkholeAnswer(question);
    return reply(RCODE.NOERROR, sinkhole, {
      name, type, decision: 'deny', reason: 'not_allowlisted', answers: sinkhole.length,
    });
  }

  // Allowlisted. Only address records are answered; every other type gets NODATA.
  if (question.type !== 'A' && question.type !== 'AAAA') {
    return reply(RCODE.NOERROR, [], { name, type, decision: 'allow', answers: 0 });
  }
  let addresses: { address: string; family: 4 | 6 }[];
  try {
    addresses = await withTimeout(policy.resolve(name), resolveTimeoutMs);
  } catch (err) {
    // The checked resolver refuses with a SluiceError (upstream_dns, private_address).
    return reply(RCODE.SERVFAIL, [], {
      name, type, decision: 'allow', reason: err instanceof SluiceError ? err.reason : 'upstream_dns',
    });
  }
  const family = question.type === 'A' ? 4 : 6;
  const answers: Answer[] = addresses
    .filter((a) => a.family === family)
    .map((a) => ({ type: question.type as 'A' | 'AAAA', name: question.name, ttl: ANSWER_TTL_SECONDS, data: a.address }));
  return reply(RCODE.NOERROR, answers, { name, type, decision: 'allow', answers: answers.length });
}

function sinkholeAnswer(question: Question): Answer[] {
  if (question.type === 'A') {
    return [{ type: 'A', name: question.name, ttl: ANSWER_TTL_SECONDS, data: SINKHOLE_A }];
  }
  if (question.type === 'AAAA') {
    return [{ type: 'AAAA', name: question.name, ttl: ANSWER_TTL_SECONDS, data: SINKHOLE_AAAA }];
  }
  return []; // TXT, MX, …: nothing useful, and nothing forwarded
}

function encodeResponse(
  query: DecodedPacket, question: Question | undefined, rcode: number, answers: Answer[],
  transport: 'udp' | 'tcp',
): Buffer {
  const opt = query.additionals?.find((a): a is OptAnswer => a.type === 'OPT');
  const limit = transport === 'tcp'
    ? 65_535
    : opt ? Math.min(Math.max(opt.udpPayloadSize, UDP_CLASSIC_MAX), UDP_EDNS_MAX) : UDP_CLASSIC_MAX;
  // RFC 6891 §6.1.1: a response to an EDNS query carries an OPT record of its own.
  const additionals: Answer[] = opt
    ? [{ type: 'OPT', name: '.', udpPayloadSize: UDP_EDNS_MAX, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }]
    : [];
  let kept = answers;
  let truncated = 0;
  for (;;) {
    const packet = {
      type: 'response' as const,
      id: query.id ?? 0,
      flags: ((query.flags ?? 0) & FLAG_RD) | FLAG_RA | truncated | rcode,
      questions: question ? [question] : [],
      answers: kept,
      additionals,
    };
    const wire = dnsPacket.encode(packet);
    if (wire.length <= limit || kept.length === 0) return wire;
    kept = kept.slice(0, -1);
    truncated = dnsPacket.TRUNCATED_RESPONSE;
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`resolution took longer than ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
