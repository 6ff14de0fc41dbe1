import CallbackStore
/// Every statement the store runs more than once, prepared on first use and cached per connection.
///
/// Parameters are numbered (`?1`, `?2`, …) so that the binding code can name them.
enum Query: Int, CaseIterable {
    case beginImmediate, beginDeferred, commit
    case savepoint, releaseSavepoint, rollbackToSavepoint

    case insertPending, pendingByToken, pendingByJob, deletePending, updatePendingStatus, listPending
    case pendingByExecution, dueHeartbeats, nextHeartbeatBase, noteHeartbeat
    case unsweptDue, sweepDue, nextSweepTimes, recordSweep, pendingOlderThan
    case outboxHasAction, outboxHasAnyAction
    case rememberExecutionEnd, executionEnd, pruneEndedExecutions, evictEndedExecutions
    case isClosed, closedByToken, markClosed, pruneClosed
    case insertEarlyEvent, earlyEventByJob, listEarlyEvents, pruneEarlyEvents, deleteEarlyEvent, evictEarlyEvents
    case enqueue, outboxFromDue, outboxDueTimes, outboxByID, deleteOutbox, deleteOutboxByTokenAction, deleteOutboxByTokenAnyAction
    case rescheduleOutbox, listOutbox
    case recordRejected, listRejected, evictRejected
    case rowCount, counts, gauges

    static let pendingColumns = """
        token_hash, task_token, job_kind, job_name, registered_at, execution_arn, heartbeat, \
        created_by_service, last_status, last_event_at, stop_job_on_abort, last_heartbeat_at, \
        sweep_checks, sweep_status, next_sweep_at, missing_since
        """
    /// When a heartbeat callback last had a heartbeat (or registered); `pending_heartbeat_due` indexes it.
    static let heartbeatBase = "coalesce(last_heartbeat_at, registered_at)"
    static let earlyEventColumns = "job_kind, job_name, status, event, received_at"
    static let outboxColumns = """
        id, token_hash, task_token, job_kind, job_name, action, payload, error_name, attempts, \
        next_attempt_at, created_at, last_error
        """
    static let rejectedColumns = "id, received_at, source, message_id, reason, body"
    /// ``StoreTransaction/indexedByToken`` as schema 3's `outbox_waiting_by_token` writes it.
    static let indexedByToken = "action IN ('heartbeat', 'createJob')"

    var sql: String {
        switch self {
        case .beginImmediate: "BEGIN IMMEDIATE"
        case .beginDeferred: "BEGIN DEFERRED"
        case .commit: "COMMIT"
        case .savepoint: "SAVEPOINT grouped_write"
        case .releaseSavepoint: "RELEASE grouped_write"
        case .rollbackToSavepoint: "ROLLBACK TO grouped_write"

        case .insertPending:
            "INSERT INTO pending (\(Self.pendingColumns)) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16) "
                + "ON CONFLICT (token_hash) DO NOTHING"
        case .pendingByToken: "SELECT \(Self.pendingColumns) FROM pending WHERE token_hash = ?1"
        case .pendingByJob:
            "SELECT \(Self.pendingColumns) FROM pending WHERE job_kind = ?1 AND job_name = ?2 ORDER BY registered_at"
        case .deletePending: "DELETE FROM pending WHERE token_hash = ?1"
        case .updatePendingStatus: "UPDATE pending SET last_status = ?2, last_event_at = ?3 WHERE token_hash = ?1"
        case .listPending: "SELECT \(Self.pendingColumns) FROM pending ORDER BY registered_at, rowid LIMIT ?1"
        case .pendingByExecution: "SELECT \(Self.pendingColumns) FROM pending WHERE execution_arn = ?1 ORDER BY registered_at"
        case .dueHeartbeats:
            "SELECT \(Self.pendingColumns) FROM pending WHERE heartbeat = 1 AND \(Self.heartbeatBase) <= ?1 "
                + "ORDER BY \(Self.heartbeatBase) LIMIT ?2"
        case .nextHeartbeatBase: "SELECT min(\(Self.heartbeatBase)) FROM pending WHERE heartbeat = 1"
        case .noteHeartbeat: "UPDATE pending SET last_heartbeat_at = ?2 WHERE token_hash = ?1"
        case .unsweptDue:
            "SELECT \(Self.pendingColumns) FROM pending WHERE next_sweep_at IS NULL AND registered_at <= ?1 "
                + "ORDER BY registered_at LIMIT ?2"
        case .sweepDue:
            "SELECT \(Self.pendingColumns) FROM pending WHERE next_sweep_at IS NOT NULL AND next_sweep_at <= ?1 "
                + "ORDER BY next_sweep_at LIMIT ?2"
        case .nextSweepTimes:
            "SELECT (SELECT min(registered_at) FROM pending WHERE next_sweep_at IS NULL), "
                + "(SELECT min(next_sweep_at) FROM pending WHERE next_sweep_at IS NOT NULL)"
        case .recordSweep:
            "UPDATE pending SET sweep_checks = ?2, sweep_status = ?3, next_sweep_at = ?4, missing_since = ?5 WHERE token_hash = ?1"
        case .pendingOlderThan:
            "SELECT \(Self.pendingColumns) FROM pending WHERE registered_at < ?1 ORDER BY registered_at LIMIT ?2"

        case .isClosed: "SELECT 1 FROM closed WHERE token_hash = ?1"
        case .closedByToken: "SELECT token_hash, closed_at, result FROM closed WHERE token_hash = ?1"
        case .markClosed:
            "INSERT INTO closed (token_hash, closed_at, result) VALUES (?1, ?2, ?3) "
                + "ON CONFLICT (token_hash) DO UPDATE SET closed_at = excluded.closed_at, result = excluded.result"
        case .pruneClosed: "DELETE FROM closed WHERE closed_at < ?1"

        case .insertEarlyEvent:
            "INSERT INTO early_events (\(Self.earlyEventColumns)) VALUES (?1, ?2, ?3, ?4, ?5) "
                + "ON CONFLICT (job_kind, job_name) DO NOTHING"
        case .earlyEventByJob:
            "SELECT \(Self.earlyEventColumns) FROM early_events WHERE job_kind = ?1 AND job_name = ?2"
        case .listEarlyEvents:
            "SELECT \(Self.earlyEventColumns) FROM early_events ORDER BY received_at DESC, id DESC LIMIT ?1"
        case .pruneEarlyEvents: "DELETE FROM early_events WHERE received_at < ?1"
        case .deleteEarlyEvent: "DELETE FROM early_events WHERE job_kind = ?1 AND job_name = ?2"
        case .evictEarlyEvents:
            "DELETE FROM early_events WHERE id IN (SELECT id FROM early_events ORDER BY received_at, id LIMIT ?1)"

        case .enqueue:
            "INSERT INTO outbox (token_hash, task_token, job_kind, job_name, action, payload, error_name, "
                + "attempts, next_attempt_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, ?8, ?8)"
        case .outboxFromDue:
            // No LIMIT: the caller stops stepping once it has enough rows outside its exclusion set.
            "SELECT \(Self.outboxColumns) FROM outbox WHERE next_attempt_at <= ?1 ORDER BY next_attempt_at, id"
        case .outboxDueTimes: "SELECT id, next_attempt_at FROM outbox ORDER BY next_attempt_at, id"
        case .outboxByID: "SELECT \(Self.outboxColumns) FROM outbox WHERE id = ?1"
        case .deleteOutbox: "DELETE FROM outbox WHERE id = ?1"
        // The IN term matches outbox_waiting_by_token's WHERE clause, which lets SQLite use it;
        // the Any forms (for the other actions, which the engine never looks up) scan.
        case .deleteOutboxByTokenAction:
            "DELETE FROM outbox WHERE token_hash = ?1 AND action = ?2 AND \(Self.indexedByToken)"
        case .deleteOutboxByTokenAnyAction: "DELETE FROM outbox WHERE token_hash = ?1 AND action = ?2"
        case .outboxHasAction: "SELECT 1 FROM outbox WHERE token_hash = ?1 AND action = ?2 AND \(Self.indexedByToken) LIMIT 1"
        case .outboxHasAnyAction: "SELECT 1 FROM outbox WHERE token_hash = ?1 AND action = ?2 LIMIT 1"

        case .rememberExecutionEnd:
            // A redriven execution that ends again replaces what was known of its first end.
            "INSERT INTO ended_executions (execution_arn, status, ended_at, received_at) VALUES (?1, ?2, ?3, ?4) "
                + "ON CONFLICT (execution_arn) DO UPDATE SET status = excluded.status, ended_at = excluded.ended_at, "
                + "received_at = excluded.received_at WHERE excluded.ended_at >= ended_executions.ended_at"
        case .executionEnd:
            "SELECT execution_arn, status, ended_at, received_at FROM ended_executions WHERE execution_arn = ?1"
        case .pruneEndedExecutions: "DELETE FROM ended_executions WHERE received_at < ?1"
        case .evictEndedExecutions:
            "DELETE FROM ended_executions WHERE execution_arn IN "
                + "(SELECT execution_arn FROM ended_executions ORDER BY received_at LIMIT ?1)"
        case .rescheduleOutbox:
            "UPDATE outbox SET attempts = ?2, next_attempt_at = ?3, last_error = ?4 WHERE id = ?1"
        case .listOutbox: "SELECT \(Self.outboxColumns) FROM outbox ORDER BY next_attempt_at, id LIMIT ?1"

        case .recordRejected:
            "INSERT INTO rejected (received_at, source, message_id, reason, body) VALUES (?1, ?2, ?3, ?4, ?5)"
        case .listRejected:
            "SELECT \(Self.rejectedColumns) FROM rejected ORDER BY received_at DESC, id DESC LIMIT ?1"
        case .evictRejected:
            "DELETE FROM rejected WHERE id IN (SELECT id FROM rejected ORDER BY received_at, id LIMIT ?1)"

        case .rowCount: "SELECT n FROM row_counts WHERE name = ?1"
        case .counts:
            "SELECT (SELECT count(*) FROM pending), (SELECT n FROM row_counts WHERE name = 'early_events'), "
                + "(SELECT count(*) FROM outbox), (SELECT n FROM row_counts WHERE name = 'rejected'), "
                + "(SELECT count(*) FROM closed)"
        case .gauges:
            "SELECT (SELECT count(*) FROM pending), (SELECT n FROM row_counts WHERE name = 'early_events'), "
                + "(SELECT count(*) FROM outbox), (SELECT min(created_at) FROM outbox)"
        }
    }
}
