// The `%{ }%` blocks of the suite are one-line assertions on Linux's tcp_info, such as
// `assert tcpi_state == TCPI_ESTABLISHED`. The runner evaluates that subset itself from the
// connection's state and negotiated options; any other Python makes the script a skip.

export interface TcpInfo {
  /** A TCPI_* state name without the prefix: ESTABLISHED, SYN_RECEIVED, ... */
  state: string;
  timestamps: boolean;
  sack: boolean;
  windowScale: boolean;
  ecn: boolean;
}

// Linux include/uapi/linux/tcp.h TCPI_OPT_* bits.
const OPTION_BITS: Record<string, number> = {
  TCPI_OPT_TIMESTAMPS: 1,
  TCPI_OPT_SACK: 2,
  TCPI_OPT_WSCALE: 4,
  TCPI_OPT_ECN: 8,
};

const ASSERTION = /^assert\s+(tcpi_state|tcpi_options)\s*==\s*(.+?)\s*$/;

interface Assertion {
  field: 'tcpi_state' | 'tcpi_options';
  /** The state name, or the option bits. */
  expected: string | number;
}

function parseAssertions(code: string): Assertion[] | undefined {
  const out: Assertion[] = [];
  for (const raw of code.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    const m = ASSERTION.exec(line);
    if (!m) return undefined;
    const field = m[1] as Assertion['field'];
    let expr = m[2].trim();
    if (expr.startsWith('(') && expr.endsWith(')')) expr = expr.slice(1, -1).trim();
    if (field === 'tcpi_state') {
      const state = /^TCPI_([A-Z_0-9]+)$/.exec(expr);
      if (!state) return undefined;
      out.push({ field, expected: state[1] });
      continue;
    }
    let bits = 0;
    for (const term of expr.split('|').map((t) => t.trim())) {
      if (/^\d+$/.test(term)) bits |= Number(term);
      else if (term in OPTION_BITS) bits |= OPTION_BITS[term];
      else return undefined;
    }
    out.push({ field, expected: bits });
  }
  return out.length > 0 ? out : undefined;
}

export function isSupportedPython(code: string): boolean {
  return parseAssertions(code) !== undefined;
}

/** Undefined when every assertion holds, else a message saying what differed. */
export function checkPython(code: string, info: TcpInfo | undefined): string | undefined {
  const assertions = parseAssertions(code);
  if (assertions === undefined) return `unsupported Python block: ${code}`;
  for (const a of assertions) {
    if (a.field === 'tcpi_state') {
      const actual = info?.state ?? 'CLOSED';
      if (actual !== a.expected)
        return `tcpi_state: expected TCPI_${a.expected}, got TCPI_${actual}`;
    } else {
      const actual =
        info === undefined
          ? 0
          : (info.timestamps ? 1 : 0) |
            (info.sack ? 2 : 0) |
            (info.windowScale ? 4 : 0) |
            (info.ecn ? 8 : 0);
      if (actual !== a.expected) {
        return `tcpi_options: expected ${a.expected}, got ${actual}`;
      }
    }
  }
  return undefined;
}
