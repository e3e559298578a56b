/** Runs cfgctl in-process with captured output and its own config file. */
import { main } from '@config-service/cli';

export interface Run {
  code: number;
  out: string;
  err: string;
}

export function cfgctlWith(env: NodeJS.ProcessEnv) {
  return async function cfgctl(
    args: string[],
    options: {
      signal?: AbortSignal;
      stdin?: string;
      tty?: boolean;
      onOut?: (s: string) => void;
      onErr?: (s: string) => void;
      /** Sits between cfgctl and the service (to change something at a chosen moment). */
      fetch?: typeof fetch;
    } = {},
  ): Promise<Run> {
    let out = '';
    let err = '';
    const code = await main(args, {
      stdout: {
        isTTY: options.tty,
        write: (s: string) => {
          out += s;
          options.onOut?.(s);
        },
      },
      stderr: {
        write: (s: string) => {
          err += s;
          options.onErr?.(s);
        },
      },
      env,
      signal: options.signal,
      fetch: options.fetch,
      readStdin: async () => options.stdin ?? '',
    });
    return { code, out, err };
  };
}
