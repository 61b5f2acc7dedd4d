// How every public class prints (util.inspect, console.log): its name and what matters, never `{}`,
// never an `undefined` field. The list of classes is taken from the package's exports, so a class
// added later without an entry below fails here (and one without an inspect method fails its entry).
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { DmaBufError } from '../../lib/index.js';
import { exportedClasses, samples } from '../helpers/samples.js';

describe('every public class prints usefully in util.inspect', () => {
  it('the samples below cover every class the package exports', () => {
    for (const name of exportedClasses) expect(Object.keys(samples), name).toContain(name);
  });

  for (const [name, sample] of Object.entries(samples)) {
    it.skipIf(sample.needs !== undefined)(`${name}: its name and fields, open and closed${sample.needs ? ` [needs ${sample.needs}]` : ''}`, async () => {
      const { value: made, done } = sample.make();
      const value = await made;
      const printed = inspect(value);
      expect(printed).toMatch(new RegExp(`^(\\[?${name}\\b|${name}:)`));
      expect(printed).not.toMatch(new RegExp(`^${name} \\{\\}$`));
      expect(printed).not.toMatch(/undefined/);
      const closable = value as { close?: () => void };
      if (typeof closable.close === 'function' && !(value instanceof Error)) {
        closable.close();
        if ('closed' in (value as object)) expect(inspect(value)).toMatch(/closed: true/);
      }
      done?.();
    });
  }

  it('a DmaBufError shows only the fields that are set', () => {
    const printed = inspect(new DmaBufError('ERR_DMABUF_CLOSED', 'the buffer is closed'));
    expect(printed).toMatch(/code: 'ERR_DMABUF_CLOSED'/);
    for (const field of ['errno', 'syscall', 'argument', 'bufferName', 'offset']) expect(printed).not.toMatch(new RegExp(`\\b${field}:`));
    const full = new DmaBufError('EINVAL', 'x', { syscall: 'DMA_BUF_IOCTL_SYNC', argument: 'region' });
    expect(Object.keys(full).sort()).toEqual(['argument', 'code', 'errno', 'name', 'syscall']);
  });
});
