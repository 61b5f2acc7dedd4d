/**
 * The layers of lib/ (docs/ARCHITECTURE.md draws them), enforced by `npm run lint`:
 *
 *   public layer (lib/*.ts, lib/testing/)  ──►  contract (lib/backend/backend.ts) + selector
 *        │                                         │
 *        │ kernel-only features (sockets,          ├── lib/backend/emulated/
 *        │ memfd, sharing) through                 └── lib/backend/kernel/  ──►  lib/native/
 *        ▼ lib/backend/kernel/'s door files
 *   lib/common/ (vocabulary, errors, rows, bracket-check, checked, heap-kind, debug): below all
 *   lib/system/, lib/cli/: a side wing over the public API and the backends; nothing imports it
 */
module.exports = {
  forbidden: [
    {
      name: 'one-door-to-native',
      comment: 'Only lib/backend/kernel/ talks to the native addon (lib/native/).',
      severity: 'error',
      from: { path: '^lib/', pathNot: '^lib/(native|backend/kernel)/' },
      to: { path: '^lib/native/' },
    },
    {
      name: 'common-is-below-all',
      comment: 'lib/common/ is what every layer uses; it uses none of them.',
      severity: 'error',
      from: { path: '^lib/common/' },
      to: { path: '^lib/', pathNot: '^lib/common/' },
    },
    {
      name: 'backends-below-the-public-layer',
      comment: 'A backend knows the contract and lib/common/, never the public classes.',
      severity: 'error',
      from: { path: '^lib/backend/' },
      to: { path: '^lib/', pathNot: '^lib/(backend|common|native)/' },
    },
    {
      name: 'kernel-backend-alone',
      comment: "The kernel backend does not reach into the emulator, nor the emulator into the kernel's.",
      severity: 'error',
      from: { path: '^lib/backend/(kernel|emulated)/' },
      to: { path: '^lib/backend/(kernel|emulated)/', pathNot: '^lib/backend/$1/' },
    },
    {
      name: 'system-is-a-side-wing',
      comment: 'lib/system/ (doctor, ls) uses the public API and the backends; only the CLI uses it.',
      severity: 'error',
      from: { path: '^lib/', pathNot: '^lib/(system|cli)/' },
      to: { path: '^lib/system/' },
    },
    {
      name: 'kernel-door-files-only',
      comment: "The public layer reaches the kernel backend only through its door files, not its internals.",
      severity: 'error',
      from: { path: '^lib/', pathNot: '^lib/(backend|system)/' },
      to: { path: '^lib/backend/kernel/', pathNot: '^lib/backend/kernel/(index|socket|vgem|v4l2|drm-kms|addon|errors)\\.ts$' },
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
  },
};
