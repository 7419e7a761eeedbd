/** Log levels, most severe first; a logger prints its level and everything above. */
export enum LogLevel {
  Error = 0,
  Warn = 1,
  Info = 2,
  Debug = 3,
}

export const LOG_LEVEL_NAMES: Readonly<Record<string, LogLevel>> = {
  error: LogLevel.Error,
  warn: LogLevel.Warn,
  info: LogLevel.Info,
  debug: LogLevel.Debug,
};

const LABELS = ['error', 'warn', 'info', 'debug'] as const;

/**
 * Plain-text lines on stderr: `<iso time> <level> <scope>: <message>`.
 * journald and `kubectl logs` both keep stderr, and a line per event is what
 * an operator greps for (pid, container, qpn, errno name).
 */
export class Logger {
  constructor(
    private readonly level: LogLevel = LogLevel.Info,
    private readonly scope = 'ffrouter',
    private readonly sink: (line: string) => void = (line) => process.stderr.write(line + '\n'),
  ) {}

  child(scope: string): Logger {
    return new Logger(this.level, scope, this.sink);
  }

  enabled(level: LogLevel): boolean {
    return level <= this.level;
  }

  error(msg: string): void {
    this.write(LogLevel.Error, msg);
  }
  warn(msg: string): void {
    this.write(LogLevel.Warn, msg);
  }
  info(msg: string): void {
    this.write(LogLevel.Info, msg);
  }
  debug(msg: string): void {
    this.write(LogLevel.Debug, msg);
  }

  private write(level: LogLevel, msg: string): void {
    if (level > this.level) return;
    this.sink(`${new Date().toISOString()} ${LABELS[level]} ${this.scope}: ${msg}`);
  }
}
