// The CI audit step's decision, fed with what `npm audit --omit=dev --json` prints in
// each case (no network).
type Verdict = { verdict: 'pass' | 'fail' | 'unreachable'; message: string };
// The script is CommonJS, outside the type-checked sources.
// eslint-disable-next-line @typescript-eslint/no-require-imports -- a plain .cjs file with no type declarations, which `import` would need
const { decide } = require('../.ci/audit.cjs') as { decide: (output: string) => Verdict };

/** The parts of `npm audit --json`'s report that the tests below change. */
interface AuditReport {
  metadata: { vulnerabilities: ReturnType<typeof counts> };
  error?: { code: string; summary: string };
}

const counts = (over: Partial<Record<'info' | 'low' | 'moderate' | 'high' | 'critical', number>> = {}) => {
  const severities = { info: 0, low: 0, moderate: 0, high: 0, critical: 0, ...over };
  return { ...severities, total: Object.values(severities).reduce((a, b) => a + b, 0) };
};

const clean = JSON.stringify({
  auditReportVersion: 2,
  vulnerabilities: {},
  metadata: { vulnerabilities: counts(), dependencies: { prod: 30, dev: 0, optional: 0, peer: 0, peerOptional: 0, total: 29 } },
});

const vulnerable = JSON.stringify({
  auditReportVersion: 2,
  vulnerabilities: {
    axios: {
      name: 'axios',
      severity: 'high',
      isDirect: true,
      via: [{ source: 1, name: 'axios', title: 'Server-Side Request Forgery', severity: 'high', range: '<1.0.0' }],
      effects: [],
      range: '<1.0.0',
      nodes: ['node_modules/axios'],
      fixAvailable: true,
    },
  },
  metadata: { vulnerabilities: counts({ high: 1 }), dependencies: { prod: 30, dev: 0, optional: 0, peer: 0, peerOptional: 0, total: 29 } },
});

// What npm prints when the bulk advisory endpoint answers 405.
const methodNotAllowed = JSON.stringify({
  message: '405 Method Not Allowed - POST https://registry.example/-/npm/v1/security/advisories/bulk',
  method: 'POST',
  statusCode: 405,
  body: '',
  error: { summary: '', detail: '' },
});

// What npm prints when the network is down.
const offline = JSON.stringify({
  error: { code: 'ENOTFOUND', summary: 'request to https://registry.example/-/npm/v1/security/advisories/bulk failed', detail: '' },
});

describe('the CI audit step', () => {
  it('passes a report with no vulnerability', () => {
    expect(decide(clean).verdict).toBe('pass');
  });

  it('fails a report with a vulnerability, naming its severity and package', () => {
    const { verdict, message } = decide(vulnerable);
    expect(verdict).toBe('fail');
    expect(message).toContain('1 high');
    expect(message).toContain('axios');
  });

  it.each([['low'], ['moderate'], ['critical'], ['info']] as const)('fails on a single %s finding', (severity) => {
    const report = JSON.parse(clean) as AuditReport;
    report.metadata.vulnerabilities = counts({ [severity]: 1 });
    expect(decide(JSON.stringify(report)).verdict).toBe('fail');
  });

  it('only notes a 405 from the advisory endpoint, and says nothing was audited', () => {
    const { verdict, message } = decide(methodNotAllowed);
    expect(verdict).toBe('unreachable');
    expect(message).toMatch(/could not reach the advisory service.*405 Method Not Allowed.*NOT audited/);
    // The log names what failed, not the service's address.
    expect(message).not.toContain('://');
  });

  it('only notes an advisory service that cannot be resolved', () => {
    const { verdict, message } = decide(offline);
    expect(verdict).toBe('unreachable');
    expect(message).toContain('ENOTFOUND');
  });

  it('fails when vulnerabilities are reported even if an error object is present too', () => {
    const report = JSON.parse(vulnerable) as AuditReport;
    report.error = { code: 'EAUDITPARTIAL', summary: 'partial' };
    expect(decide(JSON.stringify(report)).verdict).toBe('fail');
  });

  it.each([[''], ['npm ERR! something'], ['null'], ['{}'], ['[]']])('fails on output it cannot read: %p', (output) => {
    expect(decide(output).verdict).toBe('fail');
  });
});
