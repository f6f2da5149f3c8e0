import { DatabaseSync } from 'node:sqlite';

/** SQLite's query plans for statements against a store's file, opened read-only. */
export interface QueryPlans {
  /** The plan's lines (`SEARCH t USING INDEX i (a=?)`, `SCAN t`, …). */
  plan(sql: string): string[];
  /** `<name>: <line>` for every statement whose plan reads a whole table (subqueries and virtual tables aside). */
  tableScans(statements: Readonly<Record<string, string>>): string[];
  close(): void;
}

/** For tests that prove a SQLite store reads and writes through its indexes. */
export function openQueryPlans(file: string): QueryPlans {
  const db = new DatabaseSync(file, { readOnly: true });
  const plan = (sql: string) =>
    db
      .prepare(`EXPLAIN QUERY PLAN ${sql}`)
      .all()
      .map((row) => String(row.detail));
  return {
    plan,
    tableScans: (statements) =>
      Object.entries(statements).flatMap(([name, sql]) =>
        plan(sql)
          .filter((line) => /^SCAN (?!\(subquery)(?!.* VIRTUAL TABLE)/.test(line))
          .map((line) => `${name}: ${line}`),
      ),
    close: () => db.close(),
  };
}
