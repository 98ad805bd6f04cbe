// The image runs sluice from one bundle instead of ~300 type-stripped modules: Node's loader
// then runs a few dozen times instead of hundreds, so it never gets hot enough for V8 to
// optimise it, and the module records and sources it keeps are fewer. Measured (README,
// Benchmarks): RSS at start −8 MiB, start to ready −40 ms.
//
//   npm run build        → dist/sluice/main.js (bin/sluice.js runs it where src/ is absent),
//                          dist/sluice/config-paths.js and dns-upstream.js (the image's
//                          entrypoint reads ports and finds sluice's resolver with them)
//
// dist/sluice/ sits two folders below the package root, as src/cli/ does, so the paths the
// sources resolve from import.meta.url (../../package.json, ../../iptables/) stay right, and so
// does createRequire's lookup of the modules loaded at run time (undici's pool, prom-client).
// Lazily imported commands stay separate chunks, loaded only when used. Not minified: names and
// line structure stay readable in a stack trace.
// A type-only import: the image's build stage runs rolldown from a folder of its own, where
// 'rolldown' would not resolve from here.
import type { RolldownOptions } from 'rolldown';

export default {
  input: {
    main: 'src/cli/main.ts',
    'config-paths': 'docker/config-paths.ts',
    'dns-upstream': 'docker/dns-upstream.ts',
  },
  platform: 'node',
  output: {
    dir: 'dist/sluice',
    format: 'esm',
    entryFileNames: '[name].js',
    chunkFileNames: '[name]-[hash].js',
    comments: false,
    // Escaped, so that V8 keeps each chunk's source one byte a character: a single non-Latin-1
    // character (an em dash in a message) made it keep the whole chunk two bytes a character.
    charset: 'ascii',
  },
} satisfies RolldownOptions;
