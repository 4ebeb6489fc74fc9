/** The browser's StorageManager (navigator.storage), where there is one: persistence and quota. */

export async function requestPersist(): Promise<boolean | null> {
  const s = (globalThis.navigator as Navigator | undefined)?.storage;
  if (!s?.persist) return null;
  try {
    return (await s.persisted?.()) || (await s.persist());
  } catch {
    return null;
  }
}

export async function storageEstimate(): Promise<StorageEstimate | null> {
  const s = (globalThis.navigator as Navigator | undefined)?.storage;
  if (!s?.estimate) return null;
  try {
    return await s.estimate();
  } catch {
    return null;
  }
}
