#!/usr/bin/env node
// Entry point of the `cairn` command. The sources are TypeScript run through tsx's loader,
// so there is no build step between a checkout and a running node.
import { register as registerHooks } from 'node:module';
import { register } from 'tsx/esm/api';

register();
registerHooks('./source-condition.mjs', import.meta.url);
const { main } = await import('../packages/server/src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
