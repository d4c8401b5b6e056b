// Dtype lookups for tests that name their dtypes in tables.
import { type DType, dtypeByName } from '../../dsl/dtype.js';

/** The registered dtype called `name`; throws when there is none (a typo in a test table). */
export function dtypeNamed(name: string): DType {
  const d = dtypeByName(name);
  if (d === undefined) throw new Error(`dtype ${name} is not registered`);
  return d;
}
