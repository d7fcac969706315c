import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/**
 * The path of a program the tests start: on PATH, or in an sbin folder (Debian installs
 * dnsmasq in /usr/sbin, which a non-root user's PATH often lacks). Undefined when it is
 * not installed.
 */
export function findExecutable(name: string): string | undefined {
  return [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/sbin']
    .filter((dir) => dir !== '')
    .map((dir) => join(dir, name))
    .find((path) => {
      try {
        accessSync(path, constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
}
