/**
 * For a describe block: after each test, no fd and no dma-buf mapping the test made is still open
 * (counted against a snapshot taken before it, never the process's totals).
 */
import { afterEach, beforeEach, expect } from 'vitest';
import { dmaBufMappings, fdSnapshot, fdsMadeSince, mappingsMadeSince } from './proc.js';

export function expectNothingLeftEachTest(): void {
  let fds: Map<number, string>;
  let maps: string[];
  beforeEach(() => {
    fds = fdSnapshot();
    maps = dmaBufMappings();
  });
  afterEach(() => {
    expect(fdsMadeSince(fds)).toEqual([]);
    expect(mappingsMadeSince(maps)).toEqual([]);
  });
}
