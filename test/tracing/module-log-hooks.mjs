// Module resolution hooks (node:module register) for the tracing tests: every module resolved
// under @opentelemetry/ is appended to the file named by BERTH_TEST_MODULE_LOG, so a test can
// tell which OpenTelemetry packages a server process loaded (none, with tracing off).
import { appendFileSync } from 'node:fs';

export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  if (process.env.BERTH_TEST_MODULE_LOG && resolved.url.includes('/@opentelemetry/')) appendFileSync(process.env.BERTH_TEST_MODULE_LOG, `${resolved.url}\n`);
  return resolved;
}
