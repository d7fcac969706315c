// express-http-proxy ships no type declarations: these cover the options the bench uses.
declare module 'express-http-proxy' {
  import type { Request, RequestHandler } from 'express';
  interface Options {
    memoizeHost?: boolean;
  }
  function proxy(host: string | ((req: Request) => string), options?: Options): RequestHandler;
  export = proxy;
}
