/**
 * Waits for a condition that no event announces (a counter kept by the test, say) by checking
 * it every `intervalMs`, failing once `deadlineMs` has passed — never a fixed sleep.
 */
export async function pollUntil(condition: () => boolean | Promise<boolean>, what: string, deadlineMs = 30_000, intervalMs = 20): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
