/**
 * Distribution's event envelope, field for field, so consumers written for Distribution read
 * Berth's events unchanged (`application/vnd.docker.distribution.events.v1+json`, the media type
 * Distribution 2.8.2 posts them with, checked against it by test/notifications/events.test.ts).
 */

export const EVENTS_MEDIA_TYPE = 'application/vnd.docker.distribution.events.v1+json';

export type EventAction = 'push' | 'pull' | 'mount' | 'delete';

export interface EventDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  artifactType?: string;
}

export interface EventTarget {
  mediaType?: string;
  digest?: string;
  size?: number;
  /** Same as size (Distribution keeps it for older consumers). */
  length?: number;
  repository?: string;
  fromRepository?: string;
  url?: string;
  tag?: string;
  references?: EventDescriptor[];
}

export interface RequestRecord {
  id: string;
  addr?: string;
  host?: string;
  method: string;
  useragent: string;
}

export interface Event {
  id: string;
  /** RFC 3339. */
  timestamp: string;
  action: EventAction;
  target: EventTarget;
  request: RequestRecord;
  actor: { name?: string };
  source: { addr?: string; instanceID?: string };
}

export interface Envelope {
  events: Event[];
}

/** The HTTP body for one delivery: one event per envelope, as Distribution sends them. */
export function encodeEnvelope(events: Event[]): Buffer {
  return Buffer.from(JSON.stringify({ events } satisfies Envelope, null, 3));
}
