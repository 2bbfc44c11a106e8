import { describe, expect, it } from 'vitest';
import { parsePlantedDefects } from './planted-defects.ts';

describe('planted defects', () => {
  it('are none when the variable is unset or empty', () => {
    expect(parsePlantedDefects({}).size).toBe(0);
    expect(parsePlantedDefects({ CAIRN_PLANTED_DEFECTS: ' ' }).size).toBe(0);
  });

  it('are refused outside tests', () => {
    expect(() => parsePlantedDefects({ CAIRN_PLANTED_DEFECTS: 'skip_deletes' })).toThrow(/refused outside tests/);
    expect(() => parsePlantedDefects({ CAIRN_PLANTED_DEFECTS: 'skip_deletes', CAIRN_ALLOW_PLANTED_DEFECTS: 'yes' })).toThrow(/refused outside tests/);
  });

  it('name unknown defects', () => {
    expect(() => parsePlantedDefects({ CAIRN_PLANTED_DEFECTS: 'skip_deletes,lose_everything', CAIRN_ALLOW_PLANTED_DEFECTS: '1' })).toThrow(/unknown defect "lose_everything"/);
  });

  it('are read as a comma-separated list in a test environment', () => {
    const set = parsePlantedDefects({ CAIRN_PLANTED_DEFECTS: 'ack_before_fsync, ignore_min_index', CAIRN_ALLOW_PLANTED_DEFECTS: '1' });
    expect([...set].sort()).toEqual(['ack_before_fsync', 'ignore_min_index']);
  });
});
