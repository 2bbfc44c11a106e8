// @cairn/client: a typed client for Cairn clusters. See README.md beside this folder.
export { CairnClient, documentPath, formatIfMatch, workspace_id_pattern, list_page_max, bulk_concurrency_max } from './client.ts';
export type { BulkOptions, CallOptions, DeleteOptions, ListOptions, PutOptions, SearchOptions } from './client.ts';
export { CairnError, OutcomeUnknownError, PreconditionFailedError, UnavailableError } from './errors.ts';
export type { ApiErrorBody, AttemptFailure, CairnErrorDetails } from './errors.ts';
export { body_bytes_max_default, bulk_documents_max_default } from './bulk.ts';
export { decide } from './retry.ts';
export type { Decision, Failure, RequestKind } from './retry.ts';
export type * from './types.ts';
