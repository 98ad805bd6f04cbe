// The request's journey, in order. Adding a capability is adding a step here.
import type { Step } from '../pipeline/step.ts';
import { hostBinding } from './host-binding/host-binding.ts';
import { policyStep } from './policy/step.ts';
import { resolveStep } from './resolve/step.ts';
import { llmAuditStep } from './llm-audit/step.ts';
import { credentialStep } from './credentials/step.ts';
import { sigv4Step } from './sigv4/step.ts';
import { llmPolicyStep } from './llm-policy/step.ts';

export const requestSteps: readonly Step[] = [hostBinding, policyStep, resolveStep, llmPolicyStep, credentialStep, sigv4Step, llmAuditStep];
