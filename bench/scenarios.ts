// The requests the bench sends, shared by the upstreams (which serve them) and the
// load child (which sends them).

export const SMALL_PATH = '/small';
export const MEDIUM_PATH = '/64k';
export const JSON_PATH = '/json';
export const DOWNLOAD_PATH = '/download';
export const UPLOAD_PATH = '/upload';

export const MEDIUM_BYTES = 64 * 1024;
export const LARGE_BYTES = 10 * 1024 * 1024;
export const JSON_BYTES = 1024;

export interface Scenario {
  readonly id: string;
  readonly label: string;
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly connections: number;
  /** Seconds autocannon waits for a response before counting a timeout. */
  readonly timeout: number;
  readonly headers?: Readonly<Record<string, string>>;
  /** Builds the request body (in the load child, once per run). */
  readonly body?: () => Buffer;
}

/** A JSON object that serialises to exactly `bytes` bytes. */
export function jsonBody(bytes: number): Buffer {
  const skeleton = JSON.stringify({ id: 1, name: 'bench', padding: '' });
  return Buffer.from(JSON.stringify({ id: 1, name: 'bench', padding: 'x'.repeat(bytes - skeleton.length) }));
}

export const SCENARIOS: readonly Scenario[] = [
  { id: 'get-small', label: 'GET small', method: 'GET', path: SMALL_PATH, connections: 50, timeout: 3 },
  { id: 'get-64k', label: 'GET 64 KiB', method: 'GET', path: MEDIUM_PATH, connections: 50, timeout: 3 },
  {
    id: 'post-json',
    label: 'POST 1 KiB JSON',
    method: 'POST',
    path: JSON_PATH,
    connections: 50,
    timeout: 3,
    headers: { 'content-type': 'application/json' },
    body: () => jsonBody(JSON_BYTES),
  },
  { id: 'download-10m', label: 'GET 10 MB stream', method: 'GET', path: DOWNLOAD_PATH, connections: 10, timeout: 4 },
  {
    id: 'upload-10m',
    label: 'POST 10 MB upload',
    method: 'POST',
    path: UPLOAD_PATH,
    connections: 10,
    timeout: 4,
    headers: { 'content-type': 'application/octet-stream' },
    body: () => Buffer.alloc(LARGE_BYTES, 0x61),
  },
];

export function scenarioById(id: string): Scenario {
  const scenario = SCENARIOS.find((s) => s.id === id);
  if (scenario === undefined) throw new Error(`unknown scenario ${id}`);
  return scenario;
}
