-- Leases belong to one claim, not to a worker: every claim gets a fresh token, and every write a
-- worker makes for the task (heartbeat, checkpoint, step completion, status change, retry,
-- release) must present it. All slots of one worker share its owner id, so after cancel → retry →
-- re-claim by another slot the owner alone cannot tell the stale run from the new one.
ALTER TABLE tasks ADD COLUMN lease_token TEXT;

-- reviewdesk_claim now takes the claim's token (p_token) and stores it with the lease; otherwise
-- unchanged from 20261125000003_claim_in_one_statement.sql.
DROP FUNCTION reviewdesk_claim(TEXT, BIGINT, BIGINT, BIGINT);

CREATE FUNCTION reviewdesk_claim(p_worker TEXT, p_token TEXT, p_lease_end BIGINT, p_now BIGINT, p_start BIGINT)
RETURNS TABLE (claimed tasks, claimed_from TEXT)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_full TEXT[] := '{}';
    v_found_full BOOLEAN := FALSE;
    v_a tasks;
    v_b tasks;
    v_pick tasks;
    v_max BIGINT;
    v_held BIGINT;
BEGIN
    LOOP
        -- Unleased candidates, in claim order.
        SELECT t.* INTO v_a FROM tasks t LEFT JOIN channels c ON c.channel_id = t.channel_id
         WHERE t.lease_expires_at IS NULL
           AND t.status IN ('queued', 'assets_approved', 'video_approved', 'audio_approved', 'approved',
                            'claimed', 'generating_assets', 'generating_composites', 'composites_ready',
                            'generating_video', 'generating_audio', 'generating_sfx', 'sfx_ready',
                            'assembling', 'assembly_ready', 'uploading')
           AND (t.next_retry_at IS NULL OR t.next_retry_at <= p_now)
           AND COALESCE(c.is_active, 1) = 1
           AND t.channel_id <> ALL (v_full)
         ORDER BY t.priority_rank, t.created_at
         LIMIT 1
         FOR UPDATE OF t SKIP LOCKED;
        -- Expired leases: usually none (a worker died), which one probe of tasks_leased tells.
        -- When there are some, the statement is planned with the actual time (EXECUTE), so the
        -- few expired leases are read from tasks_leased, never by walking every task.
        v_b := NULL;
        IF (SELECT MIN(lease_expires_at) FROM tasks WHERE lease_expires_at IS NOT NULL) < p_now THEN
            EXECUTE 'SELECT t.* FROM tasks t LEFT JOIN channels c ON c.channel_id = t.channel_id
                      WHERE t.lease_expires_at IS NOT NULL AND t.lease_expires_at < $1
                        AND t.status IN (''queued'', ''assets_approved'', ''video_approved'', ''audio_approved'',
                                         ''approved'', ''claimed'', ''generating_assets'', ''generating_composites'',
                                         ''composites_ready'', ''generating_video'', ''generating_audio'',
                                         ''generating_sfx'', ''sfx_ready'', ''assembling'', ''assembly_ready'',
                                         ''uploading'')
                        AND (t.next_retry_at IS NULL OR t.next_retry_at <= $1)
                        AND COALESCE(c.is_active, 1) = 1
                        AND t.channel_id <> ALL ($2)
                      ORDER BY t.priority_rank, t.created_at
                      LIMIT 1
                      FOR UPDATE OF t SKIP LOCKED'
               INTO v_b USING p_now, v_full;
        END IF;

        IF v_a.id IS NULL AND v_b.id IS NULL THEN
            RETURN;
        ELSIF v_b.id IS NULL
              OR (v_a.id IS NOT NULL
                  AND (v_a.priority_rank, v_a.created_at) <= (v_b.priority_rank, v_b.created_at)) THEN
            v_pick := v_a;
        ELSE
            v_pick := v_b;
        END IF;

        PERFORM pg_advisory_xact_lock(21060, hashtext(v_pick.channel_id));
        -- A new statement after the lock: a fresh snapshot. The candidate itself is not counted
        -- (it is row-locked by us, unleased or expired).
        SELECT (SELECT COUNT(*) FROM tasks
                 WHERE channel_id = v_pick.channel_id AND lease_expires_at >= p_now),
               COALESCE((SELECT max_concurrent FROM channels WHERE channel_id = v_pick.channel_id), 2)
          INTO v_held, v_max;

        IF v_held < v_max THEN
            UPDATE tasks t
               SET lease_owner = p_worker, lease_token = p_token, lease_expires_at = p_lease_end, updated_at = p_now,
                   status = CASE WHEN p_start = 1 AND t.status = 'queued' THEN 'claimed' ELSE t.status END,
                   status_changed_at = CASE WHEN p_start = 1 AND t.status = 'queued' THEN p_now
                                            ELSE t.status_changed_at END
             WHERE t.id = v_pick.id
            RETURNING t.* INTO claimed;
            claimed_from := v_pick.status;
            IF claimed.status <> v_pick.status THEN
                INSERT INTO task_events (task_id, kind, from_status, to_status, source, payload,
                                         correlation_id, created_at)
                VALUES (claimed.id, 'status_changed', v_pick.status, claimed.status, 'worker', '{}',
                        claimed.correlation_id, p_now);
            END IF;
            RETURN NEXT;
            RETURN;
        END IF;

        -- The channel is full: skip it, and (once) every other full channel.
        v_full := v_full || v_pick.channel_id;
        IF NOT v_found_full THEN
            v_found_full := TRUE;
            -- Planned with the actual time: the held leases come from tasks_leased.
            EXECUTE 'SELECT $2 || ARRAY(
                       SELECT o.channel_id FROM tasks o LEFT JOIN channels oc ON oc.channel_id = o.channel_id
                        WHERE o.lease_expires_at IS NOT NULL AND o.lease_expires_at >= $1
                        GROUP BY o.channel_id, oc.max_concurrent
                       HAVING COUNT(*) >= COALESCE(oc.max_concurrent, 2))'
               INTO v_full USING p_now, v_full;
        END IF;
    END LOOP;
END;
$$;
