/**
 * Factories by name: the storage drivers, storage middleware, access controllers and
 * notification sinks Berth knows. Built-in ones are added when their module loads, plugins'
 * before the configuration is checked (src/plugins/load.ts); nothing is added after start-up.
 */
export class NamedFactories<F> {
  private readonly table = new Map<string, F>();

  /** `what` names the kind in errors: "storage driver". */
  constructor(private readonly what: string) {}

  /** Adds a factory; an empty name or a name already taken is an error. */
  register(name: string, factory: F): void {
    if (typeof name !== 'string' || name === '') throw new Error(`${this.what} name must be a non-empty string`);
    if (typeof factory !== 'function') throw new Error(`${this.what} "${name}": the factory must be a function`);
    if (this.table.has(name)) throw new Error(`${this.what} "${name}" is already registered`);
    this.table.set(name, factory);
  }

  get(name: string): F | undefined {
    return this.table.get(name);
  }

  has(name: string): boolean {
    return this.table.has(name);
  }

  /** Every registered name, sorted. */
  names(): string[] {
    return [...this.table.keys()].sort();
  }
}
