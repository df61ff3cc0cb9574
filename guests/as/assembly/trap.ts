// The runtime's `abort` (failed assertion, out-of-bounds access, out of memory): trap, which
// the host records as a guest fault. Wired in with `--use abort=assembly/trap/abort`, so the
// module imports no `env.abort`.
export function abort(
  message: string | null,
  fileName: string | null,
  lineNumber: u32,
  columnNumber: u32,
): void {
  unreachable();
}
