#!/usr/bin/env node
// Every type that a public signature of the published package names must be importable from one of
// its entry points ('dmabuf', 'dmabuf/testing'): a user who can see `HeapKind` in a hover but not
// import it cannot write the annotation. Reads the built declarations (dist/, `npm run build`) with
// the TypeScript compiler API: for each exported declaration, every type reference in it must
// resolve to an exported symbol, to a TypeScript or @types/node type, or to a type parameter.
//
//   node scripts/api/check-types.mjs     → exit 1 listing each unexported type and where it is used
import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DIST = join(ROOT, 'dist');
const ENTRIES = ['index.d.ts', join('testing', 'index.d.ts')].map((f) => join(DIST, f));

/** `[{ name, usedBy }]` of the types the public declarations name without exporting them. */
export function unexportedTypes() {
  for (const entry of ENTRIES) if (!existsSync(entry)) throw new Error(`${relative(ROOT, entry)} is missing: run npm run build`);
  const program = ts.createProgram(ENTRIES, { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, strict: true, noEmit: true });
  const checker = program.getTypeChecker();
  const resolve = (symbol) => (symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol);

  const exported = new Set();
  const roots = [];
  for (const entry of ENTRIES) {
    const moduleSymbol = checker.getSymbolAtLocation(program.getSourceFile(entry));
    for (const symbol of checker.getExportsOfModule(moduleSymbol)) {
      const target = resolve(symbol);
      exported.add(target);
      roots.push({ name: symbol.getName(), symbol: target });
    }
  }

  const missing = new Map();
  for (const { name, symbol } of roots) {
    for (const declaration of symbol.getDeclarations() ?? []) {
      const visit = (node) => {
        if (ts.isTypeReferenceNode(node) || ts.isExpressionWithTypeArguments(node)) {
          const at = ts.isTypeReferenceNode(node) ? node.typeName : node.expression;
          const referenced = checker.getSymbolAtLocation(at);
          if (referenced) {
            const target = resolve(referenced);
            const file = target.getDeclarations()?.[0]?.getSourceFile().fileName ?? '';
            const ours = file.startsWith(DIST);
            const typeParameter = (target.flags & ts.SymbolFlags.TypeParameter) !== 0;
            if (ours && !typeParameter && !exported.has(target)) {
              const uses = missing.get(target.getName()) ?? new Set();
              uses.add(name);
              missing.set(target.getName(), uses);
            }
          }
        }
        ts.forEachChild(node, visit);
      };
      visit(declaration);
    }
  }
  return [...missing].map(([type, uses]) => ({ name: type, usedBy: [...uses].sort() })).sort((a, b) => a.name.localeCompare(b.name));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const missing = unexportedTypes();
  for (const m of missing) console.error(`check-types: ${m.name} is used by ${m.usedBy.join(', ')} but not exported from 'dmabuf' or 'dmabuf/testing'`);
  process.exit(missing.length ? 1 : 0);
}
