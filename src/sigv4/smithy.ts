// @smithy/signature-v4, loaded on the first SigV4 request rather than at start: most sluices
// never see one, and loading it at start cost ~1 MiB of RSS and ~30 ms (issue 14).
import type * as SmithyModule from '@smithy/signature-v4';

type Smithy = typeof SmithyModule;

let loading: Promise<Smithy> | undefined;

export function smithySigner(): Promise<Smithy> {
  loading ??= import('@smithy/signature-v4');
  return loading;
}
