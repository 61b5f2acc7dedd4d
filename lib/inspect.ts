/** How the package's objects print in console.log / util.inspect: the class name and what matters. */
import { inspect, type InspectOptions } from 'node:util';

/** `Name { field: value, … }`, or `[Name]` below the caller's depth, styled as util.inspect would. */
export function inspectObject(name: string, fields: Record<string, unknown>, depth: number, options: InspectOptions): string {
  const stylized = options as InspectOptions & { stylize?: (text: string, style: string) => string };
  if (depth < 0) return stylized.stylize ? stylized.stylize(`[${name}]`, 'special') : `[${name}]`;
  const inner = options.depth === null || options.depth === undefined ? options.depth : options.depth - 1;
  return `${name} ${inspect(fields, { ...options, depth: inner })}`;
}
