import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import type { NotificationEndpointConfig, NotificationsConfig } from '../config/types.js';
import { notificationSinkFactory } from './registry.js';
import type { Sink } from './sinks.js';
import type { Digest } from '../oci/digest.js';
import type { ManifestInfo } from '../oci/descriptor.js';
import { peerOf } from '../peer.js';
import { Endpoint } from './endpoint.js';
import type { Event, EventAction, EventDescriptor, EventTarget, RequestRecord } from './event.js';

/** What the notifier needs from a request (the API layer's Context has all of it). */
export interface RequestInfo {
  readonly req: IncomingMessage;
  /** The request id (X-Request-Id). */
  readonly id: string;
  /** The authenticated user, when there is one. */
  readonly actor?: string;
  url(path: string): string;
}

const BLOB_MEDIA_TYPE = 'application/octet-stream';

/**
 * Turns registry operations into Distribution's events and hands them to every endpoint. The
 * API handlers call it after an operation succeeds, with the same rules as Distribution's
 * repository listener: GET and HEAD of a manifest or blob are pulls (a 304 is not), a finished
 * upload is a blob push, a cross-repository mount is a mount, and each delete (blob, manifest,
 * tag, and every tag removed with a manifest) is its own delete event. Never throws, never waits.
 */
export class Notifier {
  private readonly endpoints: Endpoint[];
  private readonly source: Event['source'];

  /** Builds the endpoints' plugin sinks (a factory may be async), then the notifier. */
  static async start(config: NotificationsConfig, log: Logger, listenAddr: string): Promise<Notifier> {
    const deliveries = new Map<NotificationEndpointConfig, Sink>();
    for (const e of config.endpoints) {
      if (e.disabled || !e.sink) continue;
      const factory = notificationSinkFactory(e.sink.name);
      if (!factory) throw new Error(`notification sink "${e.sink.name}" is not registered`);
      deliveries.set(e, await factory(e.sink.options, { endpoint: e.name, logger: log.child({ endpoint: e.name }) }));
    }
    return new Notifier(config, log, listenAddr, deliveries);
  }

  constructor(
    private readonly config: NotificationsConfig,
    private readonly log: Logger,
    listenAddr: string,
    deliveries: ReadonlyMap<NotificationEndpointConfig, Sink> = new Map(),
  ) {
    this.endpoints = config.endpoints.filter((e) => !e.disabled).map((e) => new Endpoint(e, log, deliveries.get(e)));
    for (const e of config.endpoints) {
      // Headers may hold credentials: only their names are logged.
      if (e.disabled) log.info({ endpoint: e.name }, 'notification endpoint disabled');
      else if (e.sink) log.info({ endpoint: e.name, sink: e.sink.name, timeoutMs: e.timeoutMs, threshold: e.threshold, backoffMs: e.backoffMs }, 'notification endpoint configured');
      else log.info({ endpoint: e.name, url: redactUrl(e.url), timeoutMs: e.timeoutMs, threshold: e.threshold, backoffMs: e.backoffMs, headers: Object.keys(e.headers) }, 'notification endpoint configured');
    }
    const port = /:(\d+)$/.exec(listenAddr)?.[1];
    this.source = { addr: port ? `${hostname()}:${port}` : hostname(), instanceID: randomUUID() };
  }

  /** False when every endpoint is disabled (the API layer then skips notifying altogether). */
  get active(): boolean {
    return this.endpoints.length > 0;
  }

  manifestPushed(ctx: RequestInfo, repository: string, digest: Digest, info: ManifestInfo & { size: number }, tag?: string): void {
    this.emit(ctx, 'push', this.manifestTarget(ctx, repository, digest, info, tag));
  }

  manifestPulled(ctx: RequestInfo, repository: string, digest: Digest, info: ManifestInfo & { size: number }, tag?: string): void {
    this.emit(ctx, 'pull', this.manifestTarget(ctx, repository, digest, info, tag));
  }

  manifestDeleted(ctx: RequestInfo, repository: string, digest: Digest): void {
    this.emit(ctx, 'delete', { digest: digest.value, repository });
  }

  tagDeleted(ctx: RequestInfo, repository: string, tag: string): void {
    this.emit(ctx, 'delete', { repository, tag });
  }

  repositoryDeleted(ctx: RequestInfo, repository: string): void {
    this.emit(ctx, 'delete', { repository });
  }

  blobPushed(ctx: RequestInfo, repository: string, digest: Digest, size: number): void {
    this.emit(ctx, 'push', this.blobTarget(ctx, repository, digest, size));
  }

  blobPulled(ctx: RequestInfo, repository: string, digest: Digest, size: number): void {
    this.emit(ctx, 'pull', this.blobTarget(ctx, repository, digest, size));
  }

  blobMounted(ctx: RequestInfo, repository: string, digest: Digest, size: number, fromRepository?: string): void {
    const target = this.blobTarget(ctx, repository, digest, size);
    if (fromRepository !== undefined) target.fromRepository = fromRepository;
    this.emit(ctx, 'mount', target);
  }

  blobDeleted(ctx: RequestInfo, repository: string, digest: Digest): void {
    this.emit(ctx, 'delete', { digest: digest.value, repository });
  }

  private manifestTarget(ctx: RequestInfo, repository: string, digest: Digest, info: ManifestInfo & { size: number }, tag?: string): EventTarget {
    const target: EventTarget = {
      mediaType: info.mediaType,
      digest: digest.value,
      size: info.size,
      length: info.size,
      repository,
      url: ctx.url(`/v2/${repository}/manifests/${digest.value}`),
    };
    if (tag !== undefined) target.tag = tag;
    if (this.config.events.includereferences) {
      const refs = [...info.blobs, ...info.manifests].map(toEventDescriptor);
      if (refs.length > 0) target.references = refs;
    }
    return target;
  }

  private blobTarget(ctx: RequestInfo, repository: string, digest: Digest, size: number): EventTarget {
    return { mediaType: BLOB_MEDIA_TYPE, digest: digest.value, size, length: size, repository, url: ctx.url(`/v2/${repository}/blobs/${digest.value}`) };
  }

  private emit(ctx: RequestInfo, action: EventAction, target: EventTarget): void {
    const event: Event = {
      id: randomUUID(),
      timestamp: new Date().toISOString(),
      action,
      target,
      request: requestRecord(ctx),
      actor: ctx.actor ? { name: ctx.actor } : {},
      source: this.source,
    };
    for (const endpoint of this.endpoints) {
      endpoint.write(event).catch((err: unknown) => this.log.error({ err, endpoint: endpoint.config.name }, 'notification not queued'));
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.endpoints.map((e) => e.close()));
  }
}

function toEventDescriptor(d: { mediaType: string; digest: Digest; size: number; urls?: string[]; annotations?: Record<string, string>; artifactType?: string }): EventDescriptor {
  const out: EventDescriptor = { mediaType: d.mediaType, digest: d.digest.value, size: d.size };
  if (d.urls?.length) out.urls = d.urls;
  if (d.annotations && Object.keys(d.annotations).length > 0) out.annotations = d.annotations;
  if (d.artifactType) out.artifactType = d.artifactType;
  return out;
}

/** Distribution's RequestRecord: the client address honours X-Forwarded-For and X-Real-Ip as Distribution does. */
function requestRecord(ctx: RequestInfo): RequestRecord {
  const { req } = ctx;
  const record: RequestRecord = { id: ctx.id, method: req.method ?? '', useragent: req.headers['user-agent'] ?? '' };
  const addr = remoteAddr(req);
  if (addr) record.addr = addr;
  const host = req.headers.host ?? req.headers[':authority'];
  if (typeof host === 'string') record.host = host;
  return record;
}

function remoteAddr(req: IncomingMessage): string | undefined {
  const forwarded = req.headers['x-forwarded-for'];
  const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim();
  if (first) return first;
  const realIp = req.headers['x-real-ip'];
  if (typeof realIp === 'string' && realIp.trim()) return realIp.trim();
  // Events are made after the response, when req.socket is gone: the peer was recorded at the start.
  const { address, port } = peerOf(req);
  if (!address) return undefined;
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/** A URL without its user-info (credentials must never reach the log). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (!u.username && !u.password) return url;
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return '[invalid url]';
  }
}
