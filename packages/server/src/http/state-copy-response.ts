// A copy of a node's state (Replica.stateCopy) streamed as an HTTP answer: GET /_raft/state-snapshot
// (a recovering leader) and GET /_raft/backup (cairn backup) both send one.
import fs from 'node:fs';
import { Readable } from 'node:stream';
import { STATE_COPY_HEADERS } from '../replication/recovery.ts';
import type { StateCopy } from '../replication/recovery.ts';

/**
 * The copy's bytes with its index, term, size and sha256 in STATE_COPY_HEADERS (and `extra`
 * headers). The copy is released once the file is closed, or after release_after_ms even if the
 * answer is never read to its end (the reader keeps its open file).
 */
export function stateCopyResponse(copy: StateCopy, release_after_ms: number, extra: Record<string, string> = {}): Response {
  const file = fs.createReadStream(copy.file);
  file.once('close', () => copy.release());
  setTimeout(() => copy.release(), release_after_ms).unref();
  return new Response(Readable.toWeb(file) as ReadableStream<Uint8Array>, {
    status: 200,
    headers: {
      'content-type': 'application/vnd.sqlite3',
      'content-length': String(copy.bytes),
      [STATE_COPY_HEADERS.index]: String(copy.index),
      [STATE_COPY_HEADERS.term]: String(copy.term),
      [STATE_COPY_HEADERS.bytes]: String(copy.bytes),
      [STATE_COPY_HEADERS.sha256]: copy.sha256,
      ...extra,
    },
  });
}
