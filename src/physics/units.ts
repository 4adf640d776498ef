import type { Dtype } from '../spec/catalog.js';

/** Bytes per element of each dtype nixlsim knows. */
export function dtypeBytes(dtype: Dtype): number {
  switch (dtype) {
    case 'bf16':
    case 'fp16':
      return 2;
    case 'fp8':
      return 1;
  }
}
