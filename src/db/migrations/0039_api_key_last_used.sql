-- When an API key was last used (issue 20): set from the request log's
-- batches (one UPDATE per flush, never one per request), so it may lag by the
-- flush interval (PATCHBAY_REQUEST_LOG_FLUSH_MS). Null: never used.
alter table api_keys add column last_used_at timestamptz;
