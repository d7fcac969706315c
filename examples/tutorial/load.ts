// `npm run example:load`: load on the running tutorial (`npm run example` in another
// terminal), with autocannon, then req/s, latency and how many requests each server answered.
// Seconds: `npm run example:load -- 10` or LOAD_DURATION=10; 5 by default.
import { connect } from 'node:net';
import autocannon from 'autocannon';
import { BALANCER_PORT } from './balancer';

const HOST = '127.0.0.1';
const URL = `http://${HOST}:${BALANCER_PORT}`;

function duration(): number {
  const given = process.argv[2] ?? process.env.LOAD_DURATION ?? '5';
  const seconds = Number(given);
  if (!Number.isFinite(seconds) || seconds <= 0) throw new Error(`The duration must be a number of seconds above 0, not "${given}".`);
  return seconds;
}

/** Whether something accepts connections on the balancer's port. */
function listening(): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(BALANCER_PORT, HOST);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function main(): Promise<void> {
  const seconds = duration();
  if (!(await listening())) {
    throw new Error(`Nothing listens on ${URL}: start the tutorial first, with \`npm run example\` in another terminal.`);
  }

  // The tutorial's servers answer "Response from server Test: <n>": count the answers by n.
  const answers = new Map<string, number>();
  const count = (_status: number, body: string): void => {
    const server = /Response from server Test: (\d+)/.exec(body)?.[1] ?? 'other';
    answers.set(server, (answers.get(server) ?? 0) + 1);
  };

  console.log(`Loading ${URL}/ for ${seconds} s with 10 connections…`);
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      { url: URL, connections: 10, duration: seconds, timeout: 5, requests: [{ method: 'GET', path: '/', onResponse: count }] },
      (err, res) => (err ? reject(err) : resolve(res)),
    );
    let elapsed = 0;
    // One tick a second, with the requests answered in it; the last one comes after the end.
    instance.on('tick', ({ counter }) => {
      if (++elapsed <= Math.ceil(seconds)) console.log(`  ${elapsed}/${Math.ceil(seconds)} s: ${counter} requests answered`);
    });
  });

  console.log(`\n${Math.round(result.requests.average)} req/s, latency p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms`);
  console.log(
    `${result.requests.total} requests: ${result['2xx']} 2xx, ${result.non2xx} other, ${result.errors} errors, ${result.timeouts} timeouts`,
  );
  for (const [server, n] of [...answers].sort(([a], [b]) => a.localeCompare(b))) {
    console.log(server === 'other' ? `  another answer: ${n}` : `  server ${server}: ${n}`);
  }
  if (result['2xx'] === 0) throw new Error(`No request to ${URL} was answered with a 2xx.`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
