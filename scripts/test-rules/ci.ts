/** Whether this run is CI's (CI sets CI=true; "false" and "0" mean no, as most tools read it). */
export function isCI(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env.CI;
  return v !== undefined && v !== '' && v !== 'false' && v !== '0';
}
