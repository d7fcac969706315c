// A balancer child process: `balancer.ts <id> <target>...`.
import { serve } from './child';
import { NODE_BALANCERS } from './balancers';

const [id, ...targets] = process.argv.slice(2);
const load = id === undefined ? undefined : NODE_BALANCERS[id];
if (load === undefined) throw new Error(`unknown balancer ${id}`);
void Promise.resolve(load()(targets)).then((listener) => serve(listener));
