// Checks of the New task form that need no server.

/** The largest plan the server accepts (its `plan` field limit). */
export const PLAN_MAX_BYTES = 256 * 1024;

/** Why a picked plan file cannot be sent, or null. */
export function planProblem(name: string, size: number): string | null {
  if (!/\.(ya?ml|json)$/i.test(name)) return `${name} is not a plan: pick a .yaml, .yml or .json file.`;
  if (size > PLAN_MAX_BYTES) return `${name} is ${Math.ceil(size / 1024)} KiB; a plan may be at most ${PLAN_MAX_BYTES / 1024} KiB.`;
  if (size === 0) return `${name} is empty.`;
  return null;
}
