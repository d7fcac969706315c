import type { Request, Response } from 'express';
import type { StickyConfig } from '../options/config';
import type { TargetState } from './target';

/**
 * What a cookie's Path may hold here: printable ASCII without space and ";"
 * (RFC 6265 §4.1.1 path-value, minus space to stay clear of odd parsers). The mount
 * path comes from the request (`app.use('/:tenant', lb)`), so anything else falls
 * back to "/" rather than letting a request add cookie attributes.
 */
const SAFE_PATH = /^\/[\x21-\x3a\x3c-\x7e]*$/;

/**
 * Sticky sessions by cookie: reads the target id a client carries and sets it on
 * responses. Only our one cookie is looked for, by hand: no cookie parser, no
 * allocation for the other cookies in the header.
 */
export class StickySessions {
  /** `name=`, built once. */
  private readonly prefix: string;

  constructor(private readonly config: StickyConfig) {
    this.prefix = `${config.cookie}=`;
  }

  /** The value of our cookie in a `Cookie` header (RFC 6265 §5.4 form), if present. */
  read(header: string | undefined): string | undefined {
    if (header === undefined) return undefined;
    const { prefix } = this;
    let at = header.indexOf(prefix);
    while (at !== -1) {
      const before = at === 0 ? 0x3b : header.charCodeAt(at - 1);
      // Only at the start of a cookie-pair: "xlb_target=" must not match "lb_target=".
      if (before === 0x3b || before === 0x20 || before === 0x09) {
        const start = at + prefix.length;
        const end = header.indexOf(';', start);
        return header.slice(start, end === -1 ? header.length : end).trim();
      }
      at = header.indexOf(prefix, at + 1);
    }
    return undefined;
  }

  /**
   * Appends our Set-Cookie to the response head already copied from the upstream
   * (after its own Set-Cookie values, never replacing them), unless the request
   * already carried this target's id.
   */
  respond(req: Request, res: Response, target: TargetState): void {
    if (this.read(req.headers.cookie) === target.id) return;
    const base = req.baseUrl;
    const path = base !== '' && SAFE_PATH.test(base) ? base : '/';
    // Secure only when the client came over TLS: on plain HTTP the browser would drop it.
    const secure = req.secure ? '; Secure' : '';
    res.appendHeader('set-cookie', `${this.config.cookie}=${target.id}; Path=${path}; HttpOnly; SameSite=Lax${secure}`);
  }
}
