// k6's runtime has a console, but @types/k6 does not declare one and this project type-checks
// the scripts without DOM or Node types, so that neither can be used by mistake.
declare var console: {
  log(...data: unknown[]): void;
  info(...data: unknown[]): void;
  warn(...data: unknown[]): void;
  error(...data: unknown[]): void;
  debug(...data: unknown[]): void;
};
