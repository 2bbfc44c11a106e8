// npm run openapi: writes packages/server/openapi.json, the OpenAPI document of a node with the
// default limits (what GET /openapi.json serves on such a node). openapi.test.ts fails when the
// file is not current.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SERVER } from '../../config/schema.ts';
import { openApiDocument } from './document.ts';

/** Where the document is kept in the repository. */
export const openapi_file = fileURLToPath(new URL('../../../openapi.json', import.meta.url));

/** The file's text: the document of the default limits, two-space indented, one newline at the end. */
export function openApiText(): string {
  return `${JSON.stringify(openApiDocument(SERVER.defaults), null, 2)}\n`;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(openapi_file, openApiText());
  process.stdout.write(`wrote ${openapi_file}\n`);
}
