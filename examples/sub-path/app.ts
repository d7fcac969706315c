// An existing app with its own routes, balancing only what is under /api.
//   GET /          -> the app itself
//   GET /api/users -> http://127.0.0.1:3000/users, then :3001, then :3002, ...
// Start the three application servers first: `npm run example` does, or run them yourself.
import express from 'express';
import { loadBalance } from 'express-load-balance';

const app = express();
app.get('/', (_req, res) => {
  res.send('The app’s own home page. Try /api/anything.');
});
app.use(
  '/api',
  loadBalance({
    targets: ['http://127.0.0.1:3000', 'http://127.0.0.1:3001', 'http://127.0.0.1:3002'],
    timeout: 10_000,
  }),
);
app.listen(8081, () => console.log('App on http://localhost:8081/ (balancing /api)'));
