import { build, type Plugin } from 'esbuild';
import path from 'node:path';
const zodEnglishOnly: Plugin = {
  name: 'zod-english-only',
  setup(b) {
    const zodDir = `${path.sep}node_modules${path.sep}zod${path.sep}`;
    b.onResolve({ filter: /locales\/index\.js$/ }, (args) => (args.importer.includes(zodDir) ? { path: path.resolve(args.resolveDir, args.path), namespace: 'zod-english-only' } : undefined));
    b.onLoad({ filter: /.*/, namespace: 'zod-english-only' }, (args) => ({ contents: "export { default as en } from './en.js';", resolveDir: path.dirname(args.path), loader: 'js' }));
  },
};
async function main() {
  await build({ stdin: { contents: "exports.load = (n) => require('./functions/handlers/sql.ts');", resolveDir: process.cwd(), sourcefile: 'b.js', loader: 'js' }, bundle: true, platform: 'node', target: 'node22', format: 'cjs', minify: false, keepNames: true, outfile: '/tmp/cold/mf/unmin.js', external: ['sql.js/dist/sql-wasm.wasm'], logLevel: 'warning', mainFields: ['module', 'main'], plugins: [zodEnglishOnly] });
}
main();
