// The artifact formats live with the compiler's leaf modules (dsl/artifact.ts, types only); the
// runtime re-exports them for its users.
export type * from '../dsl/artifact.js';
