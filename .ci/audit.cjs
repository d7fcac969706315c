#!/usr/bin/env node
// CI step: fails when `npm audit --omit=dev` reports a vulnerability in what users
// install, and only notes it when the advisory service cannot be reached (some CI
// networks answer its bulk endpoint with 405), so an outage there does not block CI.
// CommonJS so that the decision logic below is unit-tested by jest without ESM flags.
'use strict';

const SEVERITIES = ['info', 'low', 'moderate', 'high', 'critical'];

/**
 * Reads the JSON that `npm audit --json` printed and decides:
 * - `fail`: vulnerabilities were reported (`metadata.vulnerabilities` counts), or the
 *   output is neither a report nor an error, so nothing can be concluded;
 * - `unreachable`: npm could not get an answer (an `error` object, no report);
 * - `pass`: a report with no vulnerability.
 */
function decide(output) {
  let report;
  try {
    report = JSON.parse(output);
  } catch {
    return { verdict: 'fail', message: 'npm audit printed no JSON report: cannot tell whether dependencies are safe' };
  }
  if (report === null || typeof report !== 'object') {
    return { verdict: 'fail', message: 'npm audit printed no JSON report: cannot tell whether dependencies are safe' };
  }
  const counts = report.metadata && report.metadata.vulnerabilities;
  if (counts && typeof counts === 'object') {
    const found = SEVERITIES.filter((severity) => Number(counts[severity]) > 0);
    const total = Number.isFinite(Number(counts.total)) ? Number(counts.total) : found.reduce((sum, s) => sum + Number(counts[s]), 0);
    if (total === 0 && found.length === 0)
      return { verdict: 'pass', message: 'npm audit: no known vulnerability in production dependencies' };
    const names = Object.keys(report.vulnerabilities || {}).sort();
    const bySeverity = found.map((severity) => `${counts[severity]} ${severity}`).join(', ');
    return {
      verdict: 'fail',
      message: `npm audit: ${total} vulnerabilit${total === 1 ? 'y' : 'ies'} in production dependencies (${bySeverity})${names.length > 0 ? `: ${names.join(', ')}` : ''}`,
    };
  }
  if (report.error && typeof report.error === 'object') {
    // Addresses are cut out of the detail: the log should say what failed, not where.
    const detail = [report.error.code, report.error.summary, report.message]
      .filter((part) => typeof part === 'string' && part !== '')
      .map((part) => part.replace(/\b[a-z][a-z0-9+.-]*:\/\/\S+/gi, '<url>'));
    return {
      verdict: 'unreachable',
      message: `NOTE: npm audit could not reach the advisory service${detail.length > 0 ? ` (${detail.join(': ')})` : ''}; dependencies were NOT audited, continuing`,
    };
  }
  return { verdict: 'fail', message: 'npm audit printed neither a report nor an error: cannot tell whether dependencies are safe' };
}

module.exports = { decide };

if (require.main === module) {
  const { spawnSync } = require('node:child_process');
  // npm audit exits non-zero both when it finds vulnerabilities and when it fails: the
  // JSON, not the exit code, says which.
  const run = spawnSync('npm', ['audit', '--omit=dev', '--json'], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (run.error) {
    console.error(`npm audit could not be started: ${run.error.message}`);
    process.exit(1);
  }
  const { verdict, message } = decide(run.stdout);
  (verdict === 'pass' ? console.log : console.error)(message);
  process.exit(verdict === 'fail' ? 1 : 0);
}
