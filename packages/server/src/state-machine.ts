// The daemon's state machine: the document store applied from log entries. Entries carry ops
// encoded once on the leader (with embeddings and token counts computed there), so replicas
// apply identical bytes and end with identical state.
import type Database from 'better-sqlite3';
import { ENTRY_NOOP } from '@cairn/raft';
import type { Entry } from '@cairn/raft';
import type { Embedder } from './embed/index.ts';
import type { StateFactory } from './replication/state.ts';
import { DocumentStore } from './store/document-store.ts';
import { decodeOp } from './store/op.ts';
import type { DocumentLimits } from './store/validate.ts';

/** `limits`: config.server's document size and metadata limits (the defaults when absent). */
export function documentStateFactory(embedder: Embedder, limits?: DocumentLimits): StateFactory<DocumentStore> {
  return (db: Database.Database) => {
    const store = new DocumentStore(db, { embedder, ...(limits === undefined ? {} : { limits }) });
    return {
      machine: store,
      applier: {
        apply(entry: Entry): void {
          if (entry.type === ENTRY_NOOP) return;
          store.apply(decodeOp(entry.payload));
        },
      },
    };
  };
}
