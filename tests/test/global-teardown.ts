// Stops only what global-setup started; services that were already running are left alone.
export default async function globalTeardown(): Promise<void> {
  await globalThis.__SLUICE_E2E_SERVICES__?.stop();
  globalThis.__SLUICE_E2E_SERVICES__ = undefined;
}
