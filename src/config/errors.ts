/**
 * A configuration problem the operator must fix. The message is always one line that names the
 * key (or file, or environment variable) and what is wrong with it, so the CLI can print it as is.
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';

  constructor(message: string) {
    super(message.replace(/\s*\n\s*/g, ' ').trim());
  }
}
