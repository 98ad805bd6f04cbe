// sluice resolves the name itself and checks every address before anything is sent; the
// upstream pool later dials only addresses from this same checked result.
import { SluiceError } from '../../errors/codes.ts';
import type { Step } from '../../pipeline/step.ts';

export const resolveStep: Step = {
  name: 'resolve',
  async onRequest(ex) {
    try {
      ex.resolved = await ex.runtime.resolver.resolve(ex.host, ex.rule?.private === true);
      return undefined;
    } catch (err) {
      if (err instanceof SluiceError) return err;
      return new SluiceError('upstream_dns', 502, `${ex.host} could not be resolved`, { cause: err });
    }
  },
};
