import CallbackStore
/// The database schema as an ordered list of migrations; version N is reached by applying
/// migrations 1…N, and `PRAGMA user_version` records the version a file is at.
enum Schema {
    /// Never edit a shipped migration: append a new one.
    static let migrations: [String] = [
        // 1: the first schema.
        """
        CREATE TABLE pending (
            token_hash TEXT PRIMARY KEY NOT NULL,
            task_token TEXT NOT NULL,
            job_kind TEXT NOT NULL,
            job_name TEXT NOT NULL,
            registered_at INTEGER NOT NULL,
            execution_arn TEXT,
            heartbeat INTEGER NOT NULL,
            created_by_service INTEGER NOT NULL,
            last_status TEXT,
            last_event_at INTEGER
        );
        CREATE INDEX pending_by_job ON pending (job_kind, job_name, registered_at);
        CREATE INDEX pending_by_age ON pending (registered_at);

        CREATE TABLE closed (
            token_hash TEXT PRIMARY KEY NOT NULL,
            closed_at INTEGER NOT NULL,
            result TEXT NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX closed_by_age ON closed (closed_at);

        CREATE TABLE early_events (
            id INTEGER PRIMARY KEY,
            job_kind TEXT NOT NULL,
            job_name TEXT NOT NULL,
            status TEXT NOT NULL,
            event TEXT NOT NULL,
            received_at INTEGER NOT NULL,
            UNIQUE (job_kind, job_name)
        );
        CREATE INDEX early_events_by_age ON early_events (received_at);

        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            token_hash TEXT NOT NULL,
            task_token TEXT NOT NULL,
            job_kind TEXT NOT NULL,
            job_name TEXT NOT NULL,
            action TEXT NOT NULL CHECK (action IN ('success', 'failure', 'heartbeat', 'createJob')),
            payload TEXT NOT NULL,
            error_name TEXT,
            attempts INTEGER NOT NULL,
            next_attempt_at INTEGER NOT NULL,
            created_at INTEGER NOT NULL,
            last_error TEXT
        );
        CREATE INDEX outbox_by_due ON outbox (next_attempt_at);
        CREATE INDEX outbox_by_token ON outbox (token_hash);

        CREATE TABLE rejected (
            id INTEGER PRIMARY KEY,
            received_at INTEGER NOT NULL,
            source TEXT NOT NULL,
            message_id TEXT,
            reason TEXT NOT NULL,
            body TEXT NOT NULL
        );
        CREATE INDEX rejected_by_age ON rejected (received_at);

        -- Row counts of the capped tables, kept by triggers in the writing transaction, so a
        -- cap check is one primary-key read instead of a COUNT(*) scan.
        CREATE TABLE row_counts (
            name TEXT PRIMARY KEY NOT NULL,
            n INTEGER NOT NULL
        ) WITHOUT ROWID;
        INSERT INTO row_counts (name, n) VALUES ('early_events', 0), ('rejected', 0);
        CREATE TRIGGER early_events_counted_in AFTER INSERT ON early_events
            BEGIN UPDATE row_counts SET n = n + 1 WHERE name = 'early_events'; END;
        CREATE TRIGGER early_events_counted_out AFTER DELETE ON early_events
            BEGIN UPDATE row_counts SET n = n - 1 WHERE name = 'early_events'; END;
        CREATE TRIGGER rejected_counted_in AFTER INSERT ON rejected
            BEGIN UPDATE row_counts SET n = n + 1 WHERE name = 'rejected'; END;
        CREATE TRIGGER rejected_counted_out AFTER DELETE ON rejected
            BEGIN UPDATE row_counts SET n = n - 1 WHERE name = 'rejected'; END;
        """,
        // 2: stop on abort, periodic heartbeats, the safety sweep. The outbox is rebuilt because
        // SQLite cannot widen a CHECK constraint in place.
        """
        ALTER TABLE pending ADD COLUMN stop_job_on_abort INTEGER NOT NULL DEFAULT 0;
        UPDATE pending SET stop_job_on_abort = created_by_service;
        ALTER TABLE pending ADD COLUMN last_heartbeat_at INTEGER;
        ALTER TABLE pending ADD COLUMN sweep_checks INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE pending ADD COLUMN sweep_status TEXT;
        ALTER TABLE pending ADD COLUMN next_sweep_at INTEGER;
        ALTER TABLE pending ADD COLUMN missing_since INTEGER;
        CREATE INDEX pending_by_execution ON pending (execution_arn) WHERE execution_arn IS NOT NULL;
        -- The expression and WHERE clause must match the heartbeat queries' exactly.
        CREATE INDEX pending_heartbeat_due ON pending (coalesce(last_heartbeat_at, registered_at)) WHERE heartbeat = 1;
        CREATE INDEX pending_unswept ON pending (registered_at) WHERE next_sweep_at IS NULL;
        CREATE INDEX pending_sweep_due ON pending (next_sweep_at) WHERE next_sweep_at IS NOT NULL;

        CREATE TABLE outbox_v2 (
            id INTEGER PRIMARY KEY,
            token_hash TEXT NOT NULL,
            task_token TEXT NOT NULL,
            job_kind TEXT NOT NULL,
            job_name TEXT NOT NULL,
            action TEXT NOT NULL CHECK (action IN ('success', 'failure', 'heartbeat', 'createJob', 'stopJob')),
            payload TEXT NOT NULL,
            error_name TEXT,
            attempts INTEGER NOT NULL,
            next_attempt_at INTEGER NOT NULL,
            created_at INTEGER NOT NULL,
            last_error TEXT
        );
        INSERT INTO outbox_v2 SELECT id, token_hash, task_token, job_kind, job_name, action, payload, error_name,
            attempts, next_attempt_at, created_at, last_error FROM outbox;
        DROP TABLE outbox;
        ALTER TABLE outbox_v2 RENAME TO outbox;
        CREATE INDEX outbox_by_due ON outbox (next_attempt_at);
        CREATE INDEX outbox_by_token ON outbox (token_hash);

        CREATE TABLE ended_executions (
            execution_arn TEXT PRIMARY KEY NOT NULL,
            status TEXT NOT NULL,
            ended_at INTEGER NOT NULL,
            received_at INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX ended_executions_by_age ON ended_executions (received_at);
        INSERT INTO row_counts (name, n) VALUES ('ended_executions', 0);
        CREATE TRIGGER ended_executions_counted_in AFTER INSERT ON ended_executions
            BEGIN UPDATE row_counts SET n = n + 1 WHERE name = 'ended_executions'; END;
        CREATE TRIGGER ended_executions_counted_out AFTER DELETE ON ended_executions
            BEGIN UPDATE row_counts SET n = n - 1 WHERE name = 'ended_executions'; END;
        """,
        // 3: fewer pages per callback. The engine looks entries up by token only to drop queued
        // heartbeats and job creations, or to ask whether a creation is still queued; outcomes
        // (one per callback) are read by due time and id alone. Indexing only the entries it
        // looks up saves each callback two writes to a random page of the old index (its
        // outcome's insert and its delete): about 15 % of the WAL a callback writes.
        """
        DROP INDEX outbox_by_token;
        CREATE INDEX outbox_waiting_by_token ON outbox (token_hash, action) WHERE action IN ('heartbeat', 'createJob');
        """,
    ]

    /// The schema version this build writes and understands.
    static var version: Int { migrations.count }

    /// Brings `connection` up to ``version`` in one IMMEDIATE transaction, or throws
    /// ``StoreError/Code/schemaTooNew`` for a file written by a newer build.
    static func migrate(_ connection: Connection) throws {
        // Checked before and inside the transaction: another process may migrate in between.
        if try connection.userVersion() == version { return }
        try connection.execute("BEGIN IMMEDIATE")
        do {
            let found = try connection.userVersion()
            guard found <= version else {
                throw StoreError(
                    .schemaTooNew,
                    "database schema version \(found) is newer than this build supports (version \(version)); use a newer sagemaker-callback"
                )
            }
            for migration in migrations.dropFirst(found) {
                try connection.execute(migration)
            }
            try connection.execute("PRAGMA user_version = \(version)")
            try connection.execute("COMMIT")
        } catch {
            connection.rollbackIfActive()
            throw error
        }
    }
}
