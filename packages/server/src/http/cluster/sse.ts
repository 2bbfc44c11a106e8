// A Server-Sent Events response fed by the EventHub: one `snapshot` event per push, the newest
// snapshot wins when the client reads slower than we push, and the subscription ends when the
// client goes away (the stream is aborted) or the node closes.
import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { EventHub } from '../../cluster/event-hub.ts';
import { sse_subscribers_max } from '../../cluster/event-hub.ts';
import type { ClusterSnapshot } from '../../cluster/types.ts';

/** Client reconnect delay sent with each stream, ms. */
export const sse_retry_ms = 2000;

export function streamSnapshots(c: Context, hub: EventHub, event: string, encode: (s: ClusterSnapshot) => string): Response {
  if (hub.size >= sse_subscribers_max) {
    c.header('Retry-After', '5');
    return c.json({ error: { code: 'too_many_subscribers', message: `${sse_subscribers_max} event streams are open on this node; try again later` } }, 503);
  }
  c.header('Cache-Control', 'no-cache');
  c.header('X-Accel-Buffering', 'no'); // nginx: pass events through unbuffered
  return streamSSE(c, async function clusterEvents(stream) {
    let seq = 0;
    let latest: ClusterSnapshot | null = null;
    let writing = false;
    const drain = async (): Promise<void> => {
      writing = true;
      try {
        while (latest !== null && !stream.aborted && !stream.closed) {
          const snap: ClusterSnapshot = latest;
          latest = null;
          await stream.writeSSE({ event, id: String(++seq), data: encode(snap), retry: seq === 1 ? sse_retry_ms : undefined });
        }
      } catch {
        // the client went away mid-write; onAbort ends the subscription
      } finally {
        writing = false;
      }
    };
    let resolveDone: () => void = () => {};
    const done = new Promise<void>((resolve) => {
      resolveDone = resolve;
    });
    stream.onAbort(() => resolveDone());
    const unsubscribe = hub.subscribe((snap) => {
      latest = snap;
      if (!writing) void drain();
    });
    if (unsubscribe === null) return; // raced past the check above: close at once
    try {
      await done;
    } finally {
      unsubscribe();
    }
  });
}
