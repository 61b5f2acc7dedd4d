// A closed object refuses everything: every public method and getter of every class that owns a
// handle (it has close() and closed) throws, or rejects, ERR_DMABUF_CLOSED naming the class, before
// looking at its arguments. The classes and their instances come from the package's exports
// (test/helpers/samples.ts), so a class added later is covered without an edit here.
import { describe, expect, it } from 'vitest';
import { samples } from '../helpers/samples.js';

/** Members every closable class keeps after close: closing again, and asking whether it is closed. */
const STILL_WORKS = new Set(['constructor', 'close', 'closed']);

/** Every public member name along the prototype chain (up to Object.prototype). */
function publicMembers(value: object): { name: string; getter: boolean }[] {
  const out = new Map<string, boolean>();
  for (let proto = Object.getPrototypeOf(value); proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      if (STILL_WORKS.has(name) || name.startsWith('_') || out.has(name)) continue;
      const d = Object.getOwnPropertyDescriptor(proto, name) as PropertyDescriptor;
      out.set(name, d.get !== undefined);
    }
  }
  return [...out].map(([name, getter]) => ({ name, getter }));
}

async function outcome(value: object, member: { name: string; getter: boolean }): Promise<unknown> {
  try {
    const v = value as Record<string, unknown>;
    const result = member.getter ? v[member.name] : (v[member.name] as () => unknown).call(value);
    if (result instanceof Promise) await result;
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('a closed object refuses every public call with ERR_DMABUF_CLOSED', () => {
  for (const [name, sample] of Object.entries(samples)) {
    it.skipIf(sample.needs !== undefined)(`${name}${sample.needs ? ` [needs ${sample.needs}]` : ''}`, async () => {
      const { value: made, done } = sample.make();
      const value = (await made) as { close?: () => void; closed?: boolean };
      if (typeof value.close !== 'function' || !('closed' in value)) {
        done?.();
        return; // not a handle owner (errors, brackets: see their own tests)
      }
      value.close();
      expect(value.closed).toBe(true);
      const members = publicMembers(value);
      expect(members.length, `${name} has public members to check`).toBeGreaterThan(0);
      const wrong: string[] = [];
      for (const member of members) {
        const error = (await outcome(value, member)) as { code?: string; message?: string } | undefined;
        if (error?.code !== 'ERR_DMABUF_CLOSED' || !error.message?.includes(name))
          wrong.push(`${member.name}: ${error ? `${error.code} ${error.message}` : 'no error'}`);
      }
      done?.();
      expect(wrong).toEqual([]);
    });
  }
});
