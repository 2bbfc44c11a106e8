// The daemon's state machine: the document store applied from log entries. Entries carry ops
// encoded once on the leader (with embeddings and token counts computed there), so replicas
// apply identical bytes and end with identical state.
import type Database from 'better-sqlite3';
import { ENTRY_COMMAND } from '@cairn/raft';
import type { Entry } from '@cairn/raft';
import type { Embedder } from './embed/index.ts';
import type { StateContext, StateFactory } from './replication/state.ts';
import { DocumentStore } from './store/document-store.ts';
import { decodeOp } from './store/op.ts';
import type { DocumentLimits } from './store/validate.ts';

/**
 * `limits`: config.server's document size and metadata limits (the defaults when absent);
 * `passage_tokens`: config.server.passage_tokens_target.
 */
export function documentStateFactory(embedder: Embedder, limits?: DocumentLimits, passage_tokens?: number): StateFactory<DocumentStore> {
  return (db: Database.Database, ctx: StateContext) => {
    const store = new DocumentStore(db, {
      embedder, readDb: ctx.readDb, applyIdle: ctx.applyIdle, ...(limits === undefined ? {} : { limits }),
      ...(passage_tokens === undefined ? {} : { passage_tokens }),
    });
    return {
      machine: store,
      applier: {
        // Only commands change the state (a NOOP opens a term, a designation hands leadership over).
        apply(entry: Entry): void {
          if (entry.type !== ENTRY_COMMAND) return;
          store.apply(decodeOp(entry.payload));
        },
        *steps(entry: Entry): Generator<void, void, void> {
          if (entry.type !== ENTRY_COMMAND) return;
          yield* store.applySteps(decodeOp(entry.payload));
        },
      },
    };
  };
}
