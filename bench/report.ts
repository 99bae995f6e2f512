/**
 * The benchmarks' output format: one JSON line per figure, as the team's
 * tooling reads them, then an optional human table on stderr.
 */
export interface Figure {
  bench: string;
  figure: string;
  value: number;
  unit: string;
}

export function createReporter(bench: string): { figure(figure: string, value: number, unit: string): void; table(): void } {
  const figures: Figure[] = [];
  return {
    figure(figure, value, unit) {
      const entry = { bench, figure, value: Number(value.toPrecision(4)), unit };
      figures.push(entry);
      console.log(JSON.stringify(entry));
    },
    table() {
      console.error(figures.map((f) => `${f.figure.padEnd(40)} ${String(f.value).padStart(14)} ${f.unit}`).join('\n'));
    },
  };
}

/** Runs `body` and returns the wall seconds it took. */
export async function timed(body: () => Promise<void> | void): Promise<number> {
  const start = performance.now();
  await body();
  return (performance.now() - start) / 1000;
}
