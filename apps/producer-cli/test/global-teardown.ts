// Stops only what global-setup started.
export default async function globalTeardown(): Promise<void> {
  await globalThis.__SLUICE_CLI_SERVICES__?.stop();
  globalThis.__SLUICE_CLI_SERVICES__ = undefined;
}
