import type { Logger } from 'pino';
import { NamedFactories } from '../named.js';
import type { Sink } from './sinks.js';

/**
 * A notification sink: where an endpoint's events finally go. The built-in one POSTs
 * Distribution's envelope to `url`; a third-party one is named by `sink:` in the endpoint and
 * gets its `options:`. Either way the endpoint puts its filter, bounded queue and retries in
 * front (src/notifications/endpoint.ts): `write` is called with one event at a time, and a
 * rejected write is retried (every `backoff` after `threshold` failures) until it succeeds or
 * the sink is closed.
 */
export type NotificationSink = Sink;

export interface NotificationSinkContext {
  /** The endpoint's name (notifications.endpoints[].name). */
  readonly endpoint: string;
  readonly logger: Logger;
}

/** Builds a sink from the endpoint's `options` map. Throw to stop start-up with the message. */
export type NotificationSinkFactory = (options: Record<string, unknown>, context: NotificationSinkContext) => NotificationSink | Promise<NotificationSink>;

const sinks = new NamedFactories<NotificationSinkFactory>('notification sink');

export function registerNotificationSink(name: string, factory: NotificationSinkFactory): void {
  sinks.register(name, factory);
}

export function notificationSinkFactory(name: string): NotificationSinkFactory | undefined {
  return sinks.get(name);
}

export function registeredNotificationSinks(): string[] {
  return sinks.names();
}
