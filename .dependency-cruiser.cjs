// The layering of DESIGN.md, checked: cli → lab/bench → recovery → sources →
// postgres/inventory → util/errors. `npm run lint` runs it. @swc/core is
// dependency-cruiser's TypeScript reader here (it cannot read TypeScript 7
// through the typescript package).
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', comment: 'Import circles make load order matter and hide which module owns what.', from: {}, to: { circular: true } },
    { name: 'sources-stay-below-recovery-and-cli', severity: 'error', comment: 'A source kind is probe + materialize; it never reaches up into recovery or the terminal.', from: { path: '^src/sources/' }, to: { path: '^src/(recovery|cli|lab|bench)/' } },
    { name: 'source-kinds-stand-alone', severity: 'error', comment: 'One folder per source kind; what two kinds share lives in src/sources/common/ or src/sources/materialize/.', from: { path: '^src/sources/([^/]+)/' }, to: { path: '^src/sources/[^/]+/', pathNot: ['^src/sources/(common|materialize)/', '^src/sources/$1/'] } },
    { name: 'recovery-stays-below-cli', severity: 'error', comment: 'Recovery reports through callbacks (RecoverUi); only src/cli/ talks to the terminal.', from: { path: '^src/recovery/' }, to: { path: '^src/(cli|lab|bench)/' } },
    { name: 'postgres-is-the-floor', severity: 'error', comment: 'src/postgres/ knows PostgreSQL, nothing about sources, recovery or the CLI.', from: { path: '^src/postgres/' }, to: { path: '^src/(sources|recovery|cli|lab|bench|inventory|playbooks)/' } },
    { name: 'inventory-and-util-stay-low', severity: 'error', from: { path: '^src/(inventory|util)/' }, to: { path: '^src/(sources|recovery|cli|lab|bench)/' } },
    { name: 'not-to-unresolvable', severity: 'error', from: {}, to: { couldNotResolve: true } },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
