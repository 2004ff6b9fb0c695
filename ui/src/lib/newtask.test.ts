import { describe, expect, it } from 'vitest';
import { PLAN_MAX_BYTES, planProblem } from './newtask';

describe('new task plan file', () => {
  it('takes YAML and JSON plans up to the limit', () => {
    expect(planProblem('plan.yaml', 100)).toBeNull();
    expect(planProblem('Plan.JSON', PLAN_MAX_BYTES)).toBeNull();
  });
  it('names what is wrong with anything else', () => {
    expect(planProblem('notes.txt', 10)).toMatch(/not a plan/);
    expect(planProblem('big.yml', PLAN_MAX_BYTES + 1)).toMatch(/at most 256 KiB/);
    expect(planProblem('empty.yml', 0)).toMatch(/empty/);
  });
});
