// How a node applies committed entries to its state: in transactions of bounded size, and for at
// most apply_slice_ms at a time before it yields to the event loop (the rest follows at the next
// turn), so a backlog never keeps a node from answering appends, health checks and reads.

/** Applying committed entries yields to the event loop after this long. */
export const apply_slice_ms = 20;
/** Entries applied per state transaction at most. */
export const apply_chunk_entries_max = 256;
/** Payload bytes applied per state transaction at most (the first entry always goes in). */
export const apply_chunk_bytes_max = 512 * 1024;
