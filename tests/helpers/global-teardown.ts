export default async function globalTeardown(): Promise<void> {
  const handles = (globalThis as { __cloudliteHandles?: { close(): Promise<void> }[] }).__cloudliteHandles ?? [];
  await Promise.all(handles.map((handle) => handle.close()));
}
