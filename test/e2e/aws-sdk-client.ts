// An agent's program using the unmodified AWS SDK for JavaScript v3, run in the pod as the agent:
// credentials, region and trust come from the environment only (the surrogate pair, and sluice's
// CA through NODE_EXTRA_CA_CERTS), endpoints are the SDK's defaults.
//
//   node aws-sdk-client.ts BUCKET      prints one JSON line of what it got back
import { Readable } from 'node:stream';
import { S3Client, PutObjectCommand, GetObjectCommand, ListObjectsV2Command, CreateMultipartUploadCommand, UploadPartCommand, CompleteMultipartUploadCommand } from '@aws-sdk/client-s3';

const bucket = process.argv[2] as string;
const s3 = new S3Client({ maxAttempts: 1 });
const bytes = async (body: unknown): Promise<Buffer> => Buffer.from(await (body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());

const buffer = Buffer.from('a Buffer body from the SDK');
await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'sdk/buffer.txt', Body: buffer }));
const streamed = Buffer.alloc(300_000, 's');
await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'sdk/stream.bin', Body: Readable.from([streamed.subarray(0, 100_000), streamed.subarray(100_000)]), ContentLength: streamed.length }));
const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'sdk/multi.bin' }));
const part1 = Buffer.alloc(5 * 1024 * 1024, 1);
const part2 = Buffer.alloc(1024, 2);
const p1 = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'sdk/multi.bin', UploadId, PartNumber: 1, Body: part1 }));
const p2 = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'sdk/multi.bin', UploadId, PartNumber: 2, Body: Readable.from([part2]), ContentLength: part2.length }));
await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'sdk/multi.bin', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: p1.ETag }, { PartNumber: 2, ETag: p2.ETag }] } }));

const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'sdk/' }));
const got = {
  buffer: (await bytes((await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'sdk/buffer.txt' }))).Body)).equals(buffer),
  stream: (await bytes((await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'sdk/stream.bin' }))).Body)).equals(streamed),
  multipart: (await bytes((await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'sdk/multi.bin' }))).Body)).equals(Buffer.concat([part1, part2])),
};
process.stdout.write(`${JSON.stringify({ keys: listed.Contents?.map((c) => c.Key), got })}\n`);
