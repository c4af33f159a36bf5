import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ListObjectsV2Command, PutObjectCommand, S3Client, type ListObjectsV2CommandInput } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { listPage, readListPage, type ListPage } from '../../src/storage/driver/s3/list-page.js';
import { startS3, type S3Server } from '../helpers/s3.js';

describe('ListObjectsV2 page reader', () => {
  it('reads keys, sizes, times, prefixes and the continuation, unescaping XML text', () => {
    const xml = `<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>b</Name><Prefix>d/</Prefix><KeyCount>3</KeyCount><MaxKeys>3</MaxKeys><Delimiter>/</Delimiter>
  <IsTruncated>true</IsTruncated>
  <Contents>
    <Key>d/a&amp;b &lt;c&gt; &quot;q&quot; &apos;s&apos;</Key>
    <LastModified>2026-11-27T10:00:00.000Z</LastModified><ETag>&quot;abc&quot;</ETag><Size>12</Size>
    <Owner><ID>o</ID><DisplayName>Key &lt;Key&gt;</DisplayName></Owner><StorageClass>STANDARD</StorageClass>
  </Contents>
  <Contents><Key>d/&#x1F600;&#233;</Key><LastModified>not a time</LastModified><Size>0</Size></Contents>
  <CommonPrefixes><Prefix>d/sub/</Prefix></CommonPrefixes>
  <NextContinuationToken>tok&amp;en==</NextContinuationToken>
</ListBucketResult>`;
    const page = readListPage(xml);
    assert.deepEqual(page, {
      objects: [
        { key: `d/a&b <c> "q" 's'`, size: 12, modified: new Date('2026-11-27T10:00:00.000Z') },
        { key: 'd/😀é', size: 0, modified: undefined },
      ],
      prefixes: ['d/sub/'],
      truncated: true,
      nextToken: 'tok&en==',
    });
  });

  it('reads an empty last page', () => {
    assert.deepEqual(readListPage('<ListBucketResult><Name>b</Name><Prefix/><IsTruncated>false</IsTruncated></ListBucketResult>'), {
      objects: [],
      prefixes: [],
      truncated: false,
      nextToken: undefined,
    });
  });

  it('leaves to the SDK what it does not follow', () => {
    for (const xml of [
      '<Error><Code>AccessDenied</Code></Error>',
      '<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>a</Key>', // cut short
      '<ListBucketResult><EncodingType>url</EncodingType><IsTruncated>false</IsTruncated><Contents><Key>a%20b</Key></Contents></ListBucketResult>',
      '<ListBucketResult><Contents><Key>a</Key></Contents></ListBucketResult>', // no IsTruncated
      '<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key><![CDATA[a]]></Key></Contents></ListBucketResult>',
    ]) {
      assert.equal(readListPage(xml), undefined, xml);
    }
  });
});

describe('ListObjectsV2 pages from a real S3 server', () => {
  let s3: S3Server;
  let client: S3Client;
  let bucket: string;
  const sdkOutputs: Array<Record<string, unknown>> = [];
  const keys = [
    'dir/a&b',
    'dir/<tag>',
    `dir/quote"s'`,
    'dir/space name',
    'dir/plus+sign',
    'dir/percent%20',
    'dir/literal&amp;',
    'dir/ünïcödé/😀',
    ...Array.from({ length: 7 }, (_, i) => `dir/sub/file-${i}`),
  ];
  before(async () => {
    s3 = await startS3();
    bucket = await s3.bucket();
    client = s3.client();
    // What the SDK's deserializer made of each answer (the outermost step sees the final output).
    client.middlewareStack.add(
      (next) => async (args) => {
        const result = await next(args);
        sdkOutputs.push(result.output as unknown as Record<string, unknown>);
        return result;
      },
      { step: 'initialize', priority: 'high' },
    );
    for (const [i, Key] of keys.entries()) await client.send(new PutObjectCommand({ Bucket: bucket, Key, Body: Buffer.alloc(i, 'x') }));
  });
  after(async () => {
    client?.destroy();
    await s3?.stop();
  });

  /** The same page as the SDK's own deserializer gives it. */
  async function sdkPage(input: ListObjectsV2CommandInput): Promise<ListPage> {
    const r = await client.send(new ListObjectsV2Command(input));
    return {
      objects: (r.Contents ?? []).map((o) => ({ key: o.Key!, size: o.Size!, modified: o.LastModified })),
      prefixes: (r.CommonPrefixes ?? []).map((p) => p.Prefix!),
      truncated: r.IsTruncated === true,
      nextToken: r.NextContinuationToken,
    };
  }

  for (const [what, input] of [
    ['flat, 4 keys a page', { Prefix: 'dir/', MaxKeys: 4 }],
    ['with a delimiter, 3 a page', { Prefix: 'dir/', Delimiter: '/', MaxKeys: 3 }],
    ['after a start key', { Prefix: 'dir/', StartAfter: 'dir/percent%20', MaxKeys: 1000 }],
  ] as const) {
    it(`gives what the SDK gives, page by page: ${what}`, async () => {
      let token: string | undefined;
      let pages = 0;
      const seen: string[] = [];
      do {
        const request = { Bucket: bucket, ...input, ...(token ? { ContinuationToken: token } : {}) };
        const ours = await listPage(client, request);
        // Read here: the SDK's deserializer was handed an empty result, not the page.
        const handed = sdkOutputs[sdkOutputs.length - 1]!;
        assert.equal(handed.Contents, undefined);
        assert.equal(handed.IsTruncated, undefined);
        assert.deepEqual(ours, await sdkPage(request));
        // The server's own document is read here, not handed back to the SDK.
        const raw = await (await fetch(await getSignedUrl(client, new ListObjectsV2Command(request)))).text();
        assert.deepEqual(readListPage(raw), ours);
        seen.push(...ours.objects.map((o) => o.key), ...ours.prefixes);
        token = ours.truncated ? ours.nextToken : undefined;
        pages++;
      } while (token && pages < 20);
      assert.ok(pages > 1 || input.MaxKeys === 1000);
      const expected = input.Delimiter
        ? [...new Set(keys.map((k) => (k.indexOf('/', 4) >= 0 ? k.slice(0, k.indexOf('/', 4) + 1) : k)))]
        : keys.filter((k) => !('StartAfter' in input) || k > input.StartAfter);
      assert.deepEqual(seen.sort(), expected.sort());
    });
  }

  it('passes error answers to the SDK', async () => {
    await assert.rejects(listPage(client, { Bucket: `${bucket}-missing`, Prefix: 'dir/' }), (err: Error) => err.name === 'NoSuchBucket');
  });
});
