// The bench's control: `npm run bench` builds a second CLI bundle
// (build/bundle.ts, benchControl) in which UNDROP_BENCH_CONTROL is defined
// true, and runs it beside the real one; its checksums count rows and hash
// nothing, so the difference between the two runs is what hashing costs.
// The shipped bundle defines it false; tsc's output (tests, the bench
// itself) leaves it undefined. Nothing else can turn hashing off.
declare const UNDROP_BENCH_CONTROL: boolean | undefined;

export const HASHING_OFF: boolean = typeof UNDROP_BENCH_CONTROL !== 'undefined' && UNDROP_BENCH_CONTROL === true;
