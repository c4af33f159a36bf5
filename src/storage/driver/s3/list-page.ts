import { ListObjectsV2Command, type ListObjectsV2CommandInput, type S3Client } from '@aws-sdk/client-s3';

/**
 * ListObjectsV2 pages read without the SDK's generic XML deserializer. That deserializer spends
 * ~35 ms of CPU on a page of 1000 keys (fast-xml-parser, then the schema serde), which made a
 * catalog walk CPU-bound and held the event loop for every request behind it; the four fields a
 * listing needs are read here from the same text in ~1.5 ms. Signing, retries and error answers
 * stay the SDK's: only a successful answer's body is read here, and one this reader cannot
 * follow is handed to the SDK's deserializer unchanged.
 */

export interface ListedObject {
  key: string;
  size: number;
  modified: Date | undefined;
}

export interface ListPage {
  objects: ListedObject[];
  /** CommonPrefixes (listings with a Delimiter). */
  prefixes: string[];
  truncated: boolean;
  nextToken: string | undefined;
}

/** What the SDK is given to deserialize once the page has been read here. */
const READ_ALREADY = new TextEncoder().encode('<ListBucketResult></ListBucketResult>');

/** Sends one ListObjectsV2 request and returns its page. */
export async function listPage(client: S3Client, input: ListObjectsV2CommandInput): Promise<ListPage> {
  const command = new ListObjectsV2Command(input);
  let page: ListPage | undefined;
  command.middlewareStack.add(
    // 'low' within the deserialize step: below the SDK's deserializer, so it sees the raw answer first.
    (next) => async (args) => {
      const result = await next(args);
      const response = result.response as { statusCode?: number; body?: unknown };
      const status = response.statusCode ?? 0;
      if (status >= 200 && status < 300 && response.body !== undefined) {
        const bytes = await bodyBytes(response.body);
        page = readListPageSafely(bytes.toString('utf8'));
        response.body = page ? READ_ALREADY : new Uint8Array(bytes);
      }
      return result;
    },
    { step: 'deserialize', priority: 'low', name: 'berthListPage' },
  );
  const output = await client.send(command);
  return (
    page ?? {
      objects: (output.Contents ?? []).map((o) => ({ key: o.Key ?? '', size: o.Size ?? 0, modified: o.LastModified })),
      prefixes: (output.CommonPrefixes ?? []).map((p) => p.Prefix ?? ''),
      truncated: output.IsTruncated === true,
      nextToken: output.NextContinuationToken,
    }
  );
}

async function bodyBytes(body: unknown): Promise<Buffer> {
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const chunks: Buffer[] = [];
  for await (const chunk of body as AsyncIterable<Uint8Array | string>) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk));
  return Buffer.concat(chunks);
}

function readListPageSafely(xml: string): ListPage | undefined {
  try {
    return readListPage(xml);
  } catch {
    return undefined; // e.g. a character reference beyond Unicode: the SDK's deserializer decides
  }
}

/**
 * The page in a ListBucketResult document, or undefined when the text is not one this reader
 * follows. Element text is XML-escaped, so a '<' in it always starts markup: a key can never
 * be mistaken for a tag.
 */
export function readListPage(xml: string): ListPage | undefined {
  const root = xml.indexOf('<ListBucketResult');
  if (root < 0 || xml.includes('<![CDATA[', root) || xml.includes('<EncodingType>', root)) return undefined;
  const objects: ListedObject[] = [];
  const prefixes: string[] = [];
  let truncated: boolean | undefined;
  let nextToken: string | undefined;
  let at = xml.indexOf('>', root) + 1;
  for (;;) {
    const open = xml.indexOf('<', at);
    if (open < 0) return undefined;
    const nameEnd = xml.indexOf('>', open);
    if (nameEnd < 0) return undefined;
    const tag = xml.slice(open + 1, nameEnd);
    if (tag === '/ListBucketResult') break;
    if (tag.endsWith('/')) {
      at = nameEnd + 1; // an empty element, <Prefix/>
      continue;
    }
    const close = xml.indexOf(`</${tag}>`, nameEnd);
    if (close < 0) return undefined;
    const inner = xml.slice(nameEnd + 1, close);
    if (tag === 'Contents') {
      const key = textOf(inner, 'Key');
      if (key === undefined) return undefined;
      const size = Number(textOf(inner, 'Size') ?? '0');
      const modifiedText = textOf(inner, 'LastModified');
      const modified = modifiedText === undefined ? undefined : new Date(modifiedText);
      objects.push({ key, size: Number.isFinite(size) ? size : 0, modified: modified && !Number.isNaN(modified.getTime()) ? modified : undefined });
    } else if (tag === 'CommonPrefixes') {
      const prefix = textOf(inner, 'Prefix');
      if (prefix === undefined) return undefined;
      prefixes.push(prefix);
    } else if (tag === 'IsTruncated') {
      truncated = inner.trim() === 'true';
    } else if (tag === 'NextContinuationToken') {
      nextToken = unescapeXml(inner);
    }
    at = close + tag.length + 3;
  }
  if (truncated === undefined) return undefined;
  return { objects, prefixes, truncated, nextToken };
}

/** The text of the first child element `name` of an element's content (no nesting of the same name in a listing). */
export function textOf(content: string, name: string): string | undefined {
  const start = content.indexOf(`<${name}>`);
  if (start < 0) return content.includes(`<${name}/>`) ? '' : undefined;
  const from = start + name.length + 2;
  const end = content.indexOf(`</${name}>`, from);
  return end < 0 ? undefined : unescapeXml(content.slice(from, end));
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

export function unescapeXml(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|amp|lt|gt|quot|apos);/g, (_, entity: string) => {
    if (entity[0] !== '#') return ENTITIES[entity]!;
    const code = entity[1] === 'x' ? parseInt(entity.slice(2), 16) : parseInt(entity.slice(1), 10);
    return String.fromCodePoint(code);
  });
}
