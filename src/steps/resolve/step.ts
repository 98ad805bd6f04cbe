// sluice resolves the name itself and checks every address before anything is sent; the
// upstream pool later dials only addresses from this same checked result.
import { SluiceError } from '../../errors/codes.ts';
import type { Step, StepResult } from '../../pipeline/step.ts';
import type { Exchange } from '../../pipeline/exchange.ts';

export const resolveStep: Step = {
  name: 'resolve',
  onRequest(ex) {
    // A cached answer is used without a promise (the common case on keep-alive traffic).
    const known = ex.runtime.resolver.cached(ex.host, ex.rule?.private === true);
    if (known instanceof SluiceError) return known;
    if (known !== undefined) {
      ex.resolved = known;
      return undefined;
    }
    return lookup(ex);
  },
};

async function lookup(ex: Exchange): Promise<StepResult> {
  try {
    ex.resolved = await ex.runtime.resolver.resolve(ex.host, ex.rule?.private === true);
    return undefined;
  } catch (err) {
    if (err instanceof SluiceError) return err;
    return new SluiceError('upstream_dns', 502, `${ex.host} could not be resolved`, { cause: err });
  }
}
