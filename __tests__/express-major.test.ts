import express from 'express';
import express4 from 'express4';

declare const EXPRESS_MAJOR: 4 | 5;

// `npm test` runs the whole suite twice: on Express 5 (jest.config.js) and with every
// `express` import resolved to Express 4 (jest.express4.config.js). This pins that the
// second run really exercises Express 4.
it('runs on the Express major its jest configuration names', () => {
  expect(EXPRESS_MAJOR === 4).toBe((express as unknown) === (express4 as unknown));
});
