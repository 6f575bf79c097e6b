const FRAMES = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/** How long a wait must last before the spinner shows: quick answers never flicker. */
export const SPINNER_DELAY_MS = 250;

/**
 * Shows `label` with a spinner on a terminal's standard error while `work` runs longer than a
 * moment, then erases it. Does nothing visible when `enabled` is false (not a terminal, `--json`).
 */
export async function withSpinner<T>(
  options: { enabled: boolean; write: (text: string) => void; label: string },
  work: Promise<T>,
): Promise<T> {
  if (!options.enabled) return work;
  let frame = 0;
  let shown = false;
  const draw = () => {
    shown = true;
    options.write(`\r${FRAMES[frame++ % FRAMES.length]} ${options.label}`);
  };
  let ticker: NodeJS.Timeout | undefined;
  const start = setTimeout(() => {
    draw();
    ticker = setInterval(draw, 80);
  }, SPINNER_DELAY_MS);
  try {
    return await work;
  } finally {
    clearTimeout(start);
    clearInterval(ticker);
    // Erase to the end of the line: the next output starts on a clean line.
    if (shown) options.write("\r\u001b[2K");
  }
}
