/**
 * The S3 server settings the tests and the bench share: S3_ENDPOINT, S3_ACCESS_KEY,
 * S3_SECRET_KEY and S3_REGION, taken from the environment (a server started elsewhere) or from
 * what start-rgw.sh in this folder prints (one KEY=value per line).
 */
export type S3Env = Record<'S3_ENDPOINT' | 'S3_ACCESS_KEY' | 'S3_SECRET_KEY' | 'S3_REGION', string>;

/** The server named by S3_ENDPOINT in the environment, or undefined when none is. */
export function s3EnvFromProcess(): S3Env | undefined {
  if (!process.env.S3_ENDPOINT) return undefined;
  return {
    S3_ENDPOINT: process.env.S3_ENDPOINT,
    S3_ACCESS_KEY: process.env.S3_ACCESS_KEY ?? '',
    S3_SECRET_KEY: process.env.S3_SECRET_KEY ?? '',
    S3_REGION: process.env.S3_REGION ?? 'us-east-1',
  };
}

/** The settings start-rgw.sh printed; an error when it printed no endpoint. */
export function s3EnvFromRgw(stdout: string): S3Env {
  const env = Object.fromEntries([...stdout.trim().matchAll(/(\w+)=(\S*)/g)].map((m) => [m[1]!, m[2]!]));
  if (!env.S3_ENDPOINT) throw new Error(`start-rgw.sh printed no S3_ENDPOINT: ${stdout}`);
  return env as S3Env;
}
