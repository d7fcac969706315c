// One application server, like the tutorial's index.js (an Express app answering with
// res.send), plus the larger bodies the scenarios need. Run as a child: `upstream.ts <n>`.
import { Readable } from 'node:stream';
import express from 'express';
import { serve } from './child';
import { DOWNLOAD_PATH, JSON_BYTES, JSON_PATH, LARGE_BYTES, MEDIUM_BYTES, MEDIUM_PATH, SMALL_PATH, UPLOAD_PATH } from './scenarios';

const CHUNK = Buffer.alloc(64 * 1024, 0x62);
const MEDIUM = Buffer.alloc(MEDIUM_BYTES, 0x63);

/** LARGE_BYTES in 64 KiB chunks, produced as the reader asks: the upstream streams, never buffers. */
function largeBody(): Readable {
  let left = LARGE_BYTES;
  return new Readable({
    read() {
      const size = Math.min(left, CHUNK.length);
      left -= size;
      this.push(size === 0 ? null : CHUNK.subarray(0, size));
    },
  });
}

const num = process.argv[2] ?? '1';
const app = express();
// An ETag costs the upstream a hash of every body; the bench measures the balancer.
app.set('etag', false);

app.get(SMALL_PATH, (_req, res) => {
  res.send('Response from server Test: ' + num);
});
app.get(MEDIUM_PATH, (_req, res) => {
  res.type('application/octet-stream').send(MEDIUM);
});
// The body is parsed and checked, so a balancer that mangles it shows up as non-2xx.
app.post(JSON_PATH, express.json({ limit: '16kb' }), (req, res) => {
  const body: unknown = req.body;
  const ok = typeof body === 'object' && body !== null && JSON.stringify(body).length === JSON_BYTES;
  res.status(ok ? 200 : 400).send(ok ? 'Response from server Test: ' + num : 'bad body');
});
app.get(DOWNLOAD_PATH, (_req, res) => {
  res.type('application/octet-stream').setHeader('content-length', LARGE_BYTES);
  largeBody().pipe(res);
});
app.post(UPLOAD_PATH, (req, res) => {
  let received = 0;
  req.on('data', (chunk: Buffer) => {
    received += chunk.length;
  });
  req.on('end', () => {
    res.status(received === LARGE_BYTES ? 200 : 400).send(String(received));
  });
});

serve(app);
