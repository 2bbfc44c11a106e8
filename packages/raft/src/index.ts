export * from './types.ts';
export * from './checksum.ts';
export * from './log.ts';
export * from './follower.ts';
export * from './leader.ts';
