import type { Policy } from '../policy/compile.js';
import type { PrivacyClass } from '../privacy/classes.js';

// Stage 2: API key -> tenant. Until the policy declares keys, every caller is the local anonymous tenant, whose
// floor is the policy's default class (DeepFabric and the openai SDKs send dummy keys; they must work locally).

export interface Tenant {
  name: string;
  /** The lowest class any request of this tenant can have. */
  floor: PrivacyClass;
}

export function authenticate(policy: Policy, _authorization: string | null): Tenant {
  return { name: 'anonymous', floor: policy.privacyDefault };
}
