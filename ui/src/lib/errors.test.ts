import { describe, expect, it } from 'vitest';
import type { Task } from './bindings/Task';
import { errorInfo, lastLogLine, parseLogLine } from './errors';

function task(over: Partial<Task>): Task {
  return {
    id: '0190', channel_id: 'main', title: 'T', topic: '', story_direction: '', priority: 'normal',
    status: 'asset_error', status_changed_at: '2025-01-01T10:00:00Z', created_at: '2025-01-01T09:00:00Z',
    updated_at: '2025-01-01T10:00:00Z', notion_page_id: null, review_started_at: null, review_completed_at: null,
    error_log: '', attempts: 0, next_retry_at: null, error_category: null, correlation_id: 'c', plan_file: null, spent_usd: 0,
    ...over,
  };
}

describe('error log', () => {
  it('parses a line', () => {
    expect(parseLogLine('[2025-01-01T10:00:00Z] Assets Generating: timeout: gemini')).toEqual({
      at: '2025-01-01T10:00:00Z', status: 'Assets Generating', message: 'timeout: gemini',
    });
    expect(parseLogLine('free text').status).toBeNull();
  });
  it('takes the last non-empty line', () => {
    expect(lastLogLine('[a] Queued: one\n[b] Assets Ready: two\n\n')?.message).toBe('two');
    expect(lastLogLine('')).toBeNull();
  });
  it('describes an error card', () => {
    const info = errorInfo(task({
      error_log: '[2025-01-01T09:00:00Z] Assets Generating: 503\n[2025-01-01T10:00:00Z] Assets Generating: 503 again',
      attempts: 2, next_retry_at: '2025-01-01T10:05:00Z', error_category: 'transient',
    }), 'UTC');
    expect(info).toEqual({ step: 'Assets Generating', lastLine: '503 again', retry: 'retry 2/5, next at 10:05' });
  });
  it('says when no automatic retry will come', () => {
    expect(errorInfo(task({ attempts: 1, error_category: 'permanent' }))?.retry).toBe('retry 1/5, no automatic retry (permanent)');
    expect(errorInfo(task({ attempts: 5, next_retry_at: '2025-01-01T10:05:00Z' }))?.retry).toBe('retry 5/5, retry by hand');
    expect(errorInfo(task({ status: 'video_error' }))?.step).toBe('Video or assembly');
  });
  it('is null outside errors', () => {
    expect(errorInfo(task({ status: 'queued' }))).toBeNull();
  });
});
