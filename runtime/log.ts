/**
 * Where the default exception handler and debug reports write.
 *
 * asyncio writes through `logging.getLogger('asyncio')`; multiloop writes
 * through this object, which users may replace wholesale with `setLogger`
 * or patch method by method (tests capture reports this way).
 */
export interface Logger {
  error(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  info(...args: unknown[]): void;
  debug(...args: unknown[]): void;
}

/** The logger every loop reports through; console by default. */
export const logger: Logger = {
  error: (...args) => console.error(...args),
  warn: (...args) => console.warn(...args),
  info: (...args) => console.info(...args),
  debug: (...args) => console.debug(...args),
};

/** Replaces the methods of `logger` with those of `target` (all four are required). */
export function setLogger(target: Logger): void {
  for (const key of ['error', 'warn', 'info', 'debug'] as const) {
    if (typeof target?.[key] !== 'function') {
      throw new TypeError(`setLogger: logger.${key} must be a function`);
    }
    logger[key] = target[key].bind(target);
  }
}
