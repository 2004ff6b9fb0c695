// What an error card shows: the failed step, the last error line, "retry n/5, next at hh:mm".
import type { Task } from './bindings/Task';
import { ALL_STATUSES, ERROR_STEP, STATUS_INFO, isError } from './status';
import { formatClock } from './time';

export const MAX_ATTEMPTS = 5;

export interface LogLine {
  at: string | null;
  status: string | null;
  message: string;
}

const LINE = /^\[([^\]]+)\]\s+([^:]+):\s?(.*)$/;
const BOARD_NAMES = new Set(ALL_STATUSES.map((s) => STATUS_INFO[s].name));

/** Parse one `[<RFC 3339>] <Status Name>: <message>` line (anything else is kept as the message). */
export function parseLogLine(line: string): LogLine {
  const m = LINE.exec(line.trim());
  if (m && BOARD_NAMES.has(m[2].trim())) return { at: m[1], status: m[2].trim(), message: m[3] };
  return { at: null, status: null, message: line.trim() };
}

/** The last non-empty line of an error log. */
export function lastLogLine(log: string): LogLine | null {
  const lines = log.split('\n').filter((l) => l.trim() !== '');
  if (lines.length === 0) return null;
  return parseLogLine(lines[lines.length - 1]);
}

export interface ErrorInfo {
  step: string;
  lastLine: string;
  retry: string;
}

export function errorInfo(task: Task, tz?: string): ErrorInfo | null {
  if (!isError(task.status)) return null;
  const last = lastLogLine(task.error_log);
  const step = last?.status ?? ERROR_STEP[task.status] ?? STATUS_INFO[task.status].name;
  let retry = `retry ${Math.min(task.attempts, MAX_ATTEMPTS)}/${MAX_ATTEMPTS}`;
  if (task.next_retry_at && task.attempts < MAX_ATTEMPTS) {
    retry += `, next at ${formatClock(task.next_retry_at, tz)}`;
  } else if (task.error_category === 'permanent' || task.error_category === 'configuration') {
    retry += `, no automatic retry (${task.error_category})`;
  } else {
    retry += ', retry by hand';
  }
  return { step, lastLine: last?.message ?? '', retry };
}
