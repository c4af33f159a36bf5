import type { EventEmitter } from 'node:events';

/**
 * Resolves once a writable (a response, a pass-through) can take more, or can take nothing any
 * more (closed, failed). It leaves no listener behind: a slow reader makes a writer wait often.
 */
export function drained(stream: EventEmitter): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.off('drain', done).off('close', done).off('error', done);
      resolve();
    };
    stream.on('drain', done).on('close', done).on('error', done);
  });
}
