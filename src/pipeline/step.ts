// One shape for every stage of a request's journey (as iron-proxy's transform step): a named step
// that either lets the exchange continue (returns undefined) or refuses it with a SluiceError.
// Adding a capability is adding a step to the list in steps/index.ts, not editing the proxy.
import type { SluiceError } from '../errors/codes.ts';
import type { Exchange } from './exchange.ts';

export type StepResult = SluiceError | undefined;

export interface Step {
  readonly name: string;
  onRequest(exchange: Exchange): StepResult | Promise<StepResult>;
}

/** Runs the steps in order; stops at the first refusal. Synchronous steps cost no await. */
export async function runSteps(steps: readonly Step[], exchange: Exchange): Promise<StepResult> {
  for (const step of steps) {
    let result = step.onRequest(exchange);
    if (result instanceof Promise) result = await result;
    if (result !== undefined) return result;
  }
  return undefined;
}
