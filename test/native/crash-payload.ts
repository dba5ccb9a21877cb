/** The deterministic payload of entry `index`, so a reader can check every byte. */
export function expectedPayload(index: number): Buffer {
  return Buffer.from(`${index}:${'x'.repeat(index % 97)}`);
}
