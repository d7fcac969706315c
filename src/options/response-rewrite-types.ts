/**
 * The public types of the response rewrite options, under http-proxy-middleware's
 * names; re-exported from types.ts.
 */

/**
 * `cookieDomainRewrite` or `cookiePathRewrite`: `false` (off), one new value for every
 * cookie that has the attribute, or a map `{ old: new }` in which `'*'` matches any
 * value not listed. An empty new value removes the attribute.
 * @public
 */
export type CookieRewrite = false | string | Readonly<Record<string, string>>;

/**
 * Rewrites of the upstream's response headers, as in http-proxy-middleware (and
 * http-proxy under it): the cookies it sets, and the `Location` of its redirects. All
 * off by default; when none is given, no response header is even looked at.
 *
 * @example
 * ```ts
 * // Upstream: Set-Cookie: sid=1; Domain=internal.local; Path=/v1
 * //           301 Location: http://10.0.0.5:3000/v1/items/7
 * // Client:   Set-Cookie: sid=1; Domain=shop.example; Path=/api
 * //           301 Location: https://shop.example/api/items/7
 * app.use('/api', loadBalance({
 *   targets: ['http://10.0.0.5:3000/v1'],
 *   cookieDomainRewrite: 'shop.example',
 *   cookiePathRewrite: { '/v1': '/api' },
 *   autoRewrite: true,
 * }));
 * ```
 * @public
 */
export interface ResponseRewriteOptions {
  /**
   * Rewrites the `Domain` attribute of each `Set-Cookie` the upstream sends: a string
   * for every domain (`''` removes the attribute, making it a host-only cookie), or a
   * map `{ 'internal.local': 'shop.example', '*': '' }`. Domains are matched without
   * regard to case; a cookie without `Domain`, or whose domain no rule matches, is
   * passed on as it is. Default `false` (off).
   */
  cookieDomainRewrite?: CookieRewrite;
  /**
   * Rewrites the `Path` attribute of each `Set-Cookie` the upstream sends, as
   * `cookieDomainRewrite` does the domain; paths are matched exactly.
   * Default `false` (off).
   */
  cookiePathRewrite?: CookieRewrite;
  /**
   * A `Location` or `Content-Location` on a 201 or 3xx answer that points at the
   * target that answered (its scheme, host and port) is made to point at the balancer
   * as the client reached it: the client's host (`Host`, or `X-Forwarded-Host` from a
   * proxy `trust proxy` trusts) and scheme (`req.protocol`), and the target's base path
   * replaced by the mount path (`req.baseUrl`): target `http://10.0.0.5:3000/v1`
   * mounted at `/api` turns `http://10.0.0.5:3000/v1/items/7` into
   * `https://shop.example/api/items/7` (nginx's `proxy_redirect default`). A Location
   * pointing anywhere else, or a relative one, is never touched. Default false.
   */
  autoRewrite?: boolean;
  /**
   * Like `autoRewrite`, with this host (`'shop.example'`, `'shop.example:8443'`)
   * instead of the client's. Also with `autoRewrite` on, this host wins.
   */
  hostRewrite?: string;
  /**
   * Like `autoRewrite`, with this scheme instead of the client's. On its own it changes
   * only the scheme: the host and path stay the target's.
   */
  protocolRewrite?: 'http' | 'https';
}
