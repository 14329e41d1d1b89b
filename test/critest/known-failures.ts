// The critest known-failure list and the run summary.
//
//   node known-failures.ts skip-regex LIST            regex (RE2) matching every listed test, for --ginkgo.skip
//   node known-failures.ts summarize LIST REPORT MODE summary of a ginkgo JSON report; exit 1 on a failure
//                                                     not in LIST, or on a LIST entry critest no longer has
//
// LIST lines: `<full test name> | <why it fails> | <issue that fixes it>`; '#' starts a comment line.
import { readFileSync } from 'node:fs';

interface KnownFailure {
  name: string;
  reason: string;
  issue: string;
  line: number;
}

interface SpecReport {
  ContainerHierarchyTexts: string[] | null;
  LeafNodeText: string;
  LeafNodeType: string;
  State: string;
  Failure?: { Message?: string; Location?: { FileName?: string; LineNumber?: number } };
}

interface SuiteReport {
  SpecReports: SpecReport[] | null;
  SuiteSucceeded: boolean;
}

function readList(path: string): KnownFailure[] {
  const entries: KnownFailure[] = [];
  readFileSync(path, 'utf8')
    .split('\n')
    .forEach((text, i) => {
      const line = text.trim();
      if (line === '' || line.startsWith('#')) return;
      const parts = line.split(' | ');
      const [issue, reason] = [parts.pop(), parts.pop()];
      const name = parts.join(' | ');
      if (name === '' || reason === undefined || issue === undefined || !/^(#\d+|unfiled: .+)$/.test(issue)) {
        throw new Error(
          `${path}:${String(i + 1)}: expected "<test name> | <reason> | #<issue> (or unfiled: <topic>)"`,
        );
      }
      entries.push({ name, reason, issue, line: i + 1 });
    });
  return entries;
}

/** Go's RE2 and JavaScript escape the same metacharacters. */
const escapeRegex = (s: string): string => s.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');

function fullName(spec: SpecReport): string {
  return [...(spec.ContainerHierarchyTexts ?? []), spec.LeafNodeText].join(' ');
}

const failedStates = new Set(['failed', 'panicked', 'timedout', 'interrupted', 'aborted']);

function summarize(listPath: string, reportPath: string, mode: string): number {
  const known = readList(listPath);
  const knownNames = new Map(known.map((k) => [k.name, k]));
  const suites = JSON.parse(readFileSync(reportPath, 'utf8')) as SuiteReport[];
  const specs = suites.flatMap((s) => s.SpecReports ?? []);
  const tests = specs.filter((s) => s.LeafNodeType === 'It');
  const suiteNodeFailures = specs.filter((s) => s.LeafNodeType !== 'It' && failedStates.has(s.State));

  const passed = tests.filter((t) => t.State === 'passed');
  const failed = tests.filter((t) => failedStates.has(t.State));
  const skipped = tests.filter((t) => t.State === 'skipped' || t.State === 'pending');
  const unexpected = failed.filter((t) => !knownNames.has(fullName(t)));
  const nowPassing = passed.filter((t) => knownNames.has(fullName(t)));
  const allNames = new Set(tests.map(fullName));
  const stale = known.filter((k) => !allNames.has(k.name));
  const skippedKnown = skipped.filter((t) => knownNames.has(fullName(t))).length;

  const out: string[] = [];
  out.push(`critest summary (${mode} mode): ${String(tests.length)} tests in the suite`);
  out.push(`  passed:  ${String(passed.length)}`);
  out.push(`  failed:  ${String(failed.length)} (${String(failed.length - unexpected.length)} known)`);
  out.push(
    `  skipped: ${String(skipped.length)} (${String(skippedKnown)} known failures skipped in ${mode} mode)`,
  );
  for (const s of suiteNodeFailures) {
    out.push(`SUITE NODE FAILED: ${s.LeafNodeType}: ${s.Failure?.Message?.split('\n')[0] ?? ''}`);
  }
  for (const t of unexpected) {
    const where = t.Failure?.Location;
    out.push(`UNEXPECTED FAILURE: ${fullName(t)}`);
    out.push(
      `    at ${where?.FileName ?? '?'}:${String(where?.LineNumber ?? '?')}: ${t.Failure?.Message?.split('\n')[0] ?? ''}`,
    );
  }
  for (const t of nowPassing) out.push(`NOW PASSES (remove it from known-failures.txt): ${fullName(t)}`);
  for (const k of stale) out.push(`STALE ENTRY (line ${String(k.line)}; no such test in this critest): ${k.name}`);
  out.push(
    `critest: ${String(passed.length)} passed, ${String(failed.length)} failed, ${String(skipped.length)} skipped`,
  );
  console.log(out.join('\n'));
  return unexpected.length > 0 || stale.length > 0 || suiteNodeFailures.length > 0 ? 1 : 0;
}

const [command, listPath, reportPath, mode] = process.argv.slice(2);
if (command === 'skip-regex' && listPath !== undefined) {
  const names = readList(listPath).map((k) => escapeRegex(k.name));
  // ginkgo matches the skip regex against "<suite description> <spec text>": anchor the spec text at the end.
  console.log(names.length === 0 ? '' : ` (?:${names.join('|')})$`);
} else if (command === 'summarize' && listPath !== undefined && reportPath !== undefined) {
  process.exitCode = summarize(listPath, reportPath, mode ?? 'ci');
} else {
  console.error('usage: known-failures.ts skip-regex LIST | summarize LIST REPORT [ci|full]');
  process.exitCode = 2;
}
