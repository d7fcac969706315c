// The report of a side benchmark (bench:hedge, bench:mirror): printed as it is made,
// and saved beside the main report as bench/results/<name>-latest.md.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export class SideReport {
  private readonly lines: string[] = [];

  constructor(private readonly name: string) {}

  line(text: string): void {
    console.log(text);
    this.lines.push(text);
  }

  save(): void {
    const results = path.join(__dirname, 'results');
    mkdirSync(results, { recursive: true });
    const file = path.join(results, `${this.name}-latest.md`);
    writeFileSync(file, `# ${this.name}, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC\n\n${this.lines.join('\n')}\n`);
    console.log(`Saved to bench/results/${this.name}-latest.md`);
  }
}
