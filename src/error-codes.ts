// The one table of every code the bridge reports: each UCW_ERR_<AREA>_<WHAT> (thrown as a BridgeError)
// and UCW_WARN_<AREA>_<WHAT> (a warning log line's `code` field) with what it means and what to do.
// docs/errors.md is rendered from it; the types below make a misspelt code a compile error.

/** What a code means and what an operator does about it (rendered into docs/errors.md). */
interface CodeDoc<K extends 'error' | 'warning'> {
  readonly kind: K;
  readonly meaning: string;
  readonly hint: string;
}

/** The kind must match the prefix: an error code documented as a warning fails to compile. */
type CodeTable = { readonly [c: `UCW_ERR_${string}`]: CodeDoc<'error'> } & {
  readonly [c: `UCW_WARN_${string}`]: CodeDoc<'warning'>;
};

export const CODES = {
  UCW_ERR_CONFIG_INVALID: {
    kind: 'error',
    meaning:
      'An option is missing or invalid, or an entry of the `receivers` section is (a static header that ' +
      'would replace a protocol header, an unset `{ env: NAME }`, a bad secret), exit 2.',
    hint:
      'The message names each bad option with its flag and environment variable, or its path such as ' +
      '`receivers[0].headers.Content-Type` (never a secret or header value); ' +
      '`ucontact-webhooks run --help` lists them all. Naming `--ca-file`: the file ' +
      'is unreadable or holds no PEM certificate (`-----BEGIN CERTIFICATE-----`).',
  },
  UCW_ERR_CONFIG_SECRET_FILE: {
    kind: 'error',
    meaning:
      '`--mysql-url-file` / `--signing-secret-file` names a file that cannot be read, holds ' +
      "no secret, is readable by other users, or by its group while the bridge's user owns " +
      'it or is not in that group (the message gives its mode, never its content); exit 2.',
    hint:
      "`chmod 600 FILE`, owned by the bridge's user. Kubernetes: `defaultMode: 0400` " +
      'on the secret volume (it is mounted 0644 otherwise); Compose: `mode: 0400`.',
  },
  UCW_ERR_RULES_PARSE: {
    kind: 'error',
    meaning: 'The rules file is neither valid JSON nor valid YAML.',
    hint:
      'Fix the syntax at the place the message names; ' +
      '`ucontact-webhooks rules check FILE` checks it without starting.',
  },
  UCW_ERR_RULES_INVALID: {
    kind: 'error',
    meaning:
      'The rules do not match the rules language (unknown key, missing ' +
      'field, wrong type, unknown directory or memory, duplicate rule id).',
    hint: 'Every problem is listed with its path; fix each (see docs/rules.md) and run `rules check FILE`.',
  },
  UCW_ERR_RULES_READ: {
    kind: 'error',
    meaning: 'The rules file cannot be read.',
    hint: "Check the `--rules` path and that the bridge's user can read it.",
  },
  UCW_ERR_RULES_SCHEMA: {
    kind: 'error',
    meaning: 'At start: the rules name a table or column the source does not have (or the bridge user cannot see).',
    hint: 'The message lists each one; fix the rules, or grant `SELECT` on the table.',
  },
  UCW_ERR_RULES_SCHEMA_DRIFT: {
    kind: 'error',
    meaning:
      'A mapped table changed under a running bridge (a column a rule reads is gone): that ' +
      'rule is stopped (fail closed), the others go on; the log names the rule, table, column ' +
      'and binlog position. For a mirrored table (directories, webhooks) the bridge stops.',
    hint:
      'Fix the rules for the new schema and restart. Set `binlog_row_metadata ' +
      '= FULL` so that rows written before an `ALTER TABLE` can still be read.',
  },
  UCW_ERR_RULES_EVAL: {
    kind: 'error',
    meaning: 'A rule failed on one row change; that event was not produced (logged; the other rules go on).',
    hint: 'Report it with the logged rule and binlog position.',
  },
  UCW_ERR_SOURCE_CONNECT: {
    kind: 'error',
    meaning: 'The source server cannot be reached (retried with backoff).',
    hint: 'Check host, port and firewall in `--mysql-url`; `/readyz` shows the reason meanwhile.',
  },
  UCW_ERR_SOURCE_AUTH: {
    kind: 'error',
    meaning: 'The source refused the credentials (retried with backoff).',
    hint:
      'Check user and password in `--mysql-url`. An account with an authentication plugin mysql2 lacks ' +
      '(ed25519, PARSEC, unix_socket) cannot log in: use `mysql_native_password` or `caching_sha2_password`. ' +
      'MySQL 8 `caching_sha2_password` needs a secure connection or the RSA key exchange, and a server ' +
      'without an RSA key pair answers "Access denied" even for the right password: the bridge uses no ' +
      'TLS, so keep `caching_sha2_password_auto_generate_rsa_keys=ON` (the default) or use `?socket=`.',
  },
  UCW_ERR_SOURCE_GRANTS: {
    kind: 'error',
    meaning: 'The bridge user lacks a replication privilege (retried with backoff).',
    hint:
      'Grant `REPLICATION SLAVE` and `BINLOG MONITOR` (MariaDB) or `REPLICATION CLIENT` ' +
      '(MySQL), and `SELECT` on `ccdata` and `ccrepo` (see the README, "Grants").',
  },
  UCW_ERR_SOURCE_BINLOG_DISABLED: {
    kind: 'error',
    meaning: 'Binary logging is off on the source server.',
    hint: 'Enable `log_bin` (with a `server_id`) in the server config and restart the server.',
  },
  UCW_ERR_SOURCE_BINLOG_FORMAT: {
    kind: 'error',
    meaning: '`binlog_format` is not `ROW`: statements cannot be turned into row images.',
    hint: '`SET GLOBAL binlog_format = ROW;` and put it in the server config (MariaDB defaults to `MIXED`).',
  },
  UCW_ERR_SOURCE_ROW_IMAGE: {
    kind: 'error',
    meaning: '`binlog_row_image` is not `FULL`: payloads need every column, and transitions need the old row.',
    hint: '`SET GLOBAL binlog_row_image = FULL;` and put it in the server config.',
  },
  UCW_ERR_SOURCE_BINLOG_COMPRESSION: {
    kind: 'error',
    meaning: 'MySQL `binlog_transaction_compression` is `ON`: compressed transactions cannot be read.',
    hint:
      '`SET GLOBAL binlog_transaction_compression = OFF;` and put it in the server ' +
      'config. Transactions written while it was on stay unreadable: if the ' +
      'bridge then stops with `UCW_ERR_SOURCE_STUCK`, its checkpoint is before them.',
  },
  UCW_ERR_SOURCE_PARTIAL_JSON: {
    kind: 'error',
    meaning: 'MySQL `binlog_row_value_options` is `PARTIAL_JSON`: partial JSON updates cannot be read.',
    hint:
      "`SET GLOBAL binlog_row_value_options = '';` and put it in the server config. " +
      'Transactions written while it was set stay unreadable (see `UCW_ERR_SOURCE_STUCK`).',
  },
  UCW_ERR_SOURCE_STREAM: {
    kind: 'error',
    meaning: 'The binlog stream failed, or stayed silent for three heartbeat periods (retried from the checkpoint).',
    hint:
      'Usually transient (server restart, network). A failure ' +
      'that repeats at one position ends in `UCW_ERR_SOURCE_STUCK`.',
  },
  UCW_ERR_SOURCE_STUCK: {
    kind: 'error',
    meaning:
      'The stream failed 5 times in a row from the same checkpoint with the same ' +
      'error (fatal; `position` and `repeated` are in the log). Nothing was skipped.',
    hint:
      'A lookup error (`UCW_ERR_SOURCE_QUERY`): grant `SELECT` on the table and restart. A binlog that ' +
      'cannot be read after the position (compressed or partial-JSON transactions, a corrupt event): ' +
      'after fixing the server setting, `--reset-to-now` is the only way on, and it logs what it skips.',
  },
  UCW_ERR_SOURCE_BINLOG_GONE: {
    kind: 'error',
    meaning:
      "The checkpoint's binlog file was purged while the bridge was down: the " +
      'events in between are no longer on the server (fatal; never skipped silently).',
    hint:
      'Start once with `--reset-to-now` (it logs `UCW_WARN_SOURCE_RESET` with the skipped bytes), and ' +
      'keep binlogs longer than the longest outage you want to survive (`binlog_expire_logs_seconds`).',
  },
  UCW_ERR_SOURCE_CHECKPOINT_FOREIGN: {
    kind: 'error',
    meaning:
      'The checkpoint belongs to another server (server_id / server_uuid differ) or to ' +
      'a rebuilt history (MariaDB: the GTID position at the checkpoint differs); fatal.',
    hint: 'Use the state directory that belongs to this server, or start once with `--reset-to-now`.',
  },
  UCW_ERR_SOURCE_SERVER_ID_CLASH: {
    kind: 'error',
    meaning:
      "Another replica or bridge connected with this bridge's server id and the server " +
      'dropped this stream (MariaDB error 4052, MySQL 1236); fatal, nothing skipped.',
    hint:
      'Give each bridge its own `--server-id`, different from every server ' +
      'and replica, or leave it unset (each state directory draws its own). ' +
      'Restart: it resumes from its checkpoint. Never `--reset-to-now` for this.',
  },
  UCW_ERR_SOURCE_QUERY: {
    kind: 'error',
    meaning: 'A read-only lookup query on the source failed.',
    hint: 'Grant `SELECT` on the table and check the table names in the rules.',
  },
  UCW_ERR_SOURCE_XA_UNSUPPORTED: {
    kind: 'error',
    meaning:
      'A two-phase XA transaction (`XA PREPARE`) changed a watched table ' +
      '(fatal; nothing of it delivered; the message gives the binlog position).',
    hint:
      'Stop using two-phase XA on watched tables (`XA COMMIT ... ONE PHASE` is fine); to go ' +
      'past it, start once with `--reset-to-now`, which skips to the current end of the binlog.',
  },
  UCW_ERR_SOURCE_ROLLBACK_IN_PART: {
    kind: 'error',
    meaning:
      'A transaction read in parts rolled back (`ROLLBACK`, `ROLLBACK TO ' +
      'SAVEPOINT`) rows already staged (fatal; nothing of it delivered).',
    hint:
      "Raise `--max-queued-rows` to at least 4 times the transaction's " +
      'rows on watched tables (a part is a quarter of it) and restart.',
  },
  UCW_ERR_REGISTRY_BAD_ROW: {
    kind: 'error',
    meaning:
      'A `ccdata.webhooks` row is unusable: a URL that is not http/https, unparsable, over ' +
      '256 characters or with credentials, an unknown event name, or a repeat of another ' +
      "row's event and URL. It is skipped and logged once with its id; the others work.",
    hint: 'Fix the row; the change takes effect at once, no restart.',
  },
  UCW_ERR_OUTBOX_OPEN: {
    kind: 'error',
    meaning:
      'The local state store cannot be opened (unwritable, corrupt, or of a schema version this bridge does not know).',
    hint: "Check that `--state-dir` is writable by the bridge's user and belongs to one bridge.",
  },
  UCW_ERR_ADMIN_UNREACHABLE: {
    kind: 'error',
    meaning:
      'A bridge holds the state directory, but its admin API (named in the state dir by `admin.json`) ' +
      'does not answer, so a command that acts through it changed nothing.',
    hint:
      'Check that the bridge is healthy (`curl http://127.0.0.1:9464/healthz`) and that the command runs on ' +
      'the same machine with read access to the state dir; retry once the bridge has started.',
  },
  UCW_ERR_ADMIN_REFUSED: {
    kind: 'error',
    meaning: 'The running bridge refused an admin request (the reason and its HTTP status are in the message).',
    hint: 'Fix what the message names (a filter, an id, a URL) and run the command again; nothing was changed.',
  },
  UCW_ERR_REPLAY_NOT_IN_BINLOG: {
    kind: 'error',
    meaning:
      '`replay --from/--to` names a GTID or position the server no longer keeps (purged) or never wrote; ' +
      'nothing was read or enqueued.',
    hint:
      '`SHOW BINARY LOGS` lists the files the server keeps; replay from a GTID, position or time inside ' +
      'them. What was purged cannot be replayed.',
  },
  UCW_ERR_STATE_LOCKED: {
    kind: 'error',
    meaning:
      'Another process (a running bridge, its pid named when known) holds the state directory: a ' +
      'second `run` is refused and changes nothing.',
    hint:
      'Stop that bridge (SIGTERM) first, or give the new one its own ' +
      '`--state-dir`. A killed bridge never leaves the lock behind, so this always ' +
      'means a live process holds it; `deliveries` commands work meanwhile (through its admin API).',
  },
  UCW_ERR_STATE_MISSING: {
    kind: 'error',
    meaning:
      "A command that acts on an existing bridge's state (`deliveries retry`/`discard`/`resume`, " +
      '`replay`) was given a `--state-dir` that holds no state store; it created and changed nothing.',
    hint:
      'Check `--state-dir`: it must name the directory of a bridge that has run at least once (it ' +
      'holds `outbox.sqlite`). Only `run` creates a new state directory.',
  },
  UCW_ERR_DELIVERY_HTTP_STATUS: {
    kind: 'error',
    meaning: 'A receiver answered with a non-2xx status.',
    hint:
      'Nothing for 408, 429 and 5xx (retried; 410 is `UCW_ERR_DELIVERY_GONE`); other ' +
      'statuses are dead-lettered at once: fix the receiver, then `deliveries retry --url URL`.',
  },
  UCW_ERR_DELIVERY_NETWORK: {
    kind: 'error',
    meaning:
      'A receiver could not be reached, answered invalid HTTP, or its TLS certificate failed verification (retried).',
    hint:
      'Check the receiver. "TLS verification failed": for a private or ' +
      'self-signed CA pass its certificate with `--ca-file`; an expired certificate ' +
      'or one that does not name the host must be fixed on the receiver.',
  },
  UCW_ERR_DELIVERY_TIMEOUT: {
    kind: 'error',
    meaning: 'A receiver did not answer within `--request-timeout-ms` (retried).',
    hint: 'Speed up the receiver or raise `--request-timeout-ms`.',
  },
  UCW_ERR_DELIVERY_REQUEST: {
    kind: 'error',
    meaning: 'The request could not be built (unusable URL or stored body); dead-lettered.',
    hint: 'Fix the registration in `ccdata.webhooks`.',
  },
  UCW_ERR_DELIVERY_EXHAUSTED: {
    kind: 'error',
    meaning: 'The retry budget (`--max-attempts`, `--max-age-ms`) was spent; the delivery is dead-lettered and kept.',
    hint: 'Fix the receiver, then `deliveries list --state dead` and `deliveries retry --url URL`.',
  },
  UCW_ERR_DELIVERY_GONE: {
    kind: 'error',
    meaning:
      'A receiver answered 410 Gone: its URL is paused for ' +
      '`--gone-pause-ms` and its events kept pending (`ucw_urls_paused`).',
    hint:
      'Once the receiver is back, the next probe resumes it (or `deliveries resume --url URL` at once). ' +
      'Gone for good: clear its `url` in `ccdata.webhooks` (its backlog is cancelled). To drop a ' +
      'backlog while the registration stays, run `deliveries discard --url URL`.',
  },
  UCW_ERR_DELIVERY_BLOCKED: {
    kind: 'error',
    meaning:
      'The destination address is refused by the egress guard ' +
      '(the message names its class); dead-lettered, nothing sent.',
    hint:
      'Fix the URL or its DNS, or drop `--block-private-networks` ' +
      'for receivers on a private network; then `deliveries retry --url URL`.',
  },
  UCW_ERR_HTTP_LISTEN: {
    kind: 'error',
    meaning: 'The health/metrics HTTP port cannot be opened.',
    hint: 'Choose another `--http-port` or `--http-host`.',
  },
  UCW_WARN_SOURCE_ROW_METADATA: {
    kind: 'warning',
    meaning:
      '`binlog_row_metadata` is not `FULL`: rows are decoded with column names read from ' +
      '`INFORMATION_SCHEMA`, and an `ALTER TABLE` the bridge is behind can stop rules on that table.',
    hint: '`SET GLOBAL binlog_row_metadata = FULL` (MySQL 8.0.1+, MariaDB 10.5+) and put it in the server config.',
  },
  UCW_WARN_SOURCE_WRITABLE: {
    kind: 'warning',
    meaning:
      'The bridge user holds privileges that could change the source (listed: table ' +
      'writes, and also `BINLOG ADMIN`, `RELOAD`, `FILE`, `CREATE USER`, `SUPER`, ' +
      '`GRANT OPTION`...), directly or through a role it has or may `SET ROLE` to.',
    hint: 'Use a user with only the grants in the README\'s "Grants", and no roles that add more.',
  },
  UCW_WARN_SOURCE_RETENTION_SHORT: {
    kind: 'warning',
    meaning:
      '`check`: the source purges binlogs after less than a day (`binlog_expire_logs_seconds`, ' +
      '`expire_logs_days`): a bridge down longer cannot resume (`UCW_ERR_SOURCE_BINLOG_GONE`).',
    hint:
      '`SET GLOBAL binlog_expire_logs_seconds = 604800;` (7 days) and put it in the server config: ' +
      'longer than the longest bridge outage you want to survive.',
  },
  UCW_WARN_REGISTRY_EMPTY: {
    kind: 'warning',
    meaning: '`check`: no usable URL is registered in the webhooks table, so the bridge would deliver nothing.',
    hint:
      "Put a receiver's URL in the `url` column of the event's row in `ccdata.webhooks` " +
      '(README, "Register receivers"); it takes effect at once, no restart.',
  },
  UCW_WARN_SOURCE_RESET: {
    kind: 'warning',
    meaning: '`--reset-to-now` skipped part of the binlog; `skippedBytes` says how much.',
    hint: 'Check what happened while the bridge was behind; drop `--reset-to-now` from the next start.',
  },
  UCW_WARN_OUTBOX_FULL: {
    kind: 'warning',
    meaning:
      '`--max-outbox-pending` deliveries that can drain are pending: binlog reading ' +
      'is paused (nothing dropped, `ucw_source_paused` = 1) until they drain.',
    hint: 'Fix the failing receivers, or raise `--max-outbox-pending`.',
  },
  UCW_WARN_OUTBOX_DISK_FULL: {
    kind: 'warning',
    meaning:
      "The state store's data is at `--max-outbox-bytes` even after its delivered and cancelled rows " +
      'were pruned (retention yields to the budget): what is left is the backlogs of failing and paused ' +
      'URLs (and dead letters); binlog reading is paused (nothing dropped, `ucw_source_paused` = 1).',
    hint:
      'Bring the receiver back: as it drains, its delivered rows are pruned for room and reading resumes. For ' +
      'a receiver gone for good, run `deliveries discard --url URL` (the ' +
      'cancelled rows are pruned for room at once). Clearing its registration does not help while reading is ' +
      'paused: the change is read only once there is room again. Or raise the budget (check free disk first).',
  },
  UCW_WARN_OUTBOX_DEAD_CAP: {
    kind: 'warning',
    meaning:
      'More dead and cancelled deliveries are kept than `--max-dead-rows`: the oldest of them were deleted ' +
      '(with their events) by the pruning pass, counted in `ucw_dead_rows_pruned_total`. Logged at warn ' +
      'the first time in a run, then at info.',
    hint:
      'Look at what fails (`deliveries list --state dead`), fix the receiver and `deliveries retry`, or ' +
      '`deliveries discard` what is not wanted; raise `--max-dead-rows` to keep more for audit.',
  },
  UCW_WARN_OUTBOX_PRUNE: {
    kind: 'warning',
    meaning: 'A pruning pass failed (the error is logged); delivered rows stay until the next pass.',
    hint: "Check disk space and the state directory's health.",
  },
  UCW_WARN_OUTBOX_VACUUM: {
    kind: 'warning',
    meaning:
      'The one-time rewrite of a store from an earlier version for incremental ' +
      'vacuum failed (usually disk full); the store works but does not shrink.',
    hint: 'Free disk space about the size of `outbox.sqlite`; the next start tries again.',
  },
  UCW_WARN_SECRET_FILE_GROUP: {
    kind: 'warning',
    meaning:
      "A secret file is readable by its group: accepted because the bridge's user does not own it and " +
      'reads it through that group, as Kubernetes mounts a secret with a pod `fsGroup` (root-owned, 0440).',
    hint:
      "Make sure only the bridge runs with that group (the pod's fsGroup); " +
      "elsewhere, `chmod 600` the file, owned by the bridge's user.",
  },
  UCW_WARN_CONFIG_SHORT_SECRET: {
    kind: 'warning',
    meaning:
      'A signing secret (global or of a receivers entry, named by its path, never its value) gives fewer ' +
      'than 24 key bytes: accepted, but a short HMAC key is easier to guess.',
    hint:
      'Use at least 24 random bytes, e.g. `whsec_` followed by the base64 of 32 random bytes ' +
      '(`openssl rand -base64 32`); rotate by listing the new secret beside the old one.',
  },
  UCW_WARN_CONFIG_CONCURRENCY_ABOVE_TOTAL: {
    kind: 'warning',
    meaning:
      "`--concurrency-per-url` or a receivers entry's `concurrency` is above `--concurrency-total`, the " +
      'requests of all URLs together: that URL never gets more than the total.',
    hint:
      'Raise `--concurrency-total` (slow receivers need more connections in all: a request of 100 ms holds ' +
      "its connection 100 ms) or lower the URL's concurrency to what the total allows.",
  },
  UCW_WARN_CONFIG_DEPRECATED: {
    kind: 'warning',
    meaning:
      'A deprecated option is set: it still works. `--envelope-url-prefix` is replaced by a receivers ' +
      'entry with `urlPrefix` and `bodyFormat: envelope` (docs/receivers.md).',
    hint: 'Move the setting as the warning says; the option will be removed in a later version.',
  },
  UCW_WARN_STATE_DIR_MODE: {
    kind: 'warning',
    meaning:
      'The state directory or a file in it was readable by other users; it ' +
      'was set to 0700 / 0600 (the log lists each path with its old mode).',
    hint: 'Nothing to do now; check who could read it before, and that backups keep the modes.',
  },
  UCW_WARN_DELIVERY_CANCELLED: {
    kind: 'warning',
    meaning:
      "A registration was removed (url cleared or changed, row deleted) or a URL's backlog " +
      'discarded: its pending deliveries are cancelled, kept in the store with status ' +
      '`cancelled` (`ucw_deliveries_cancelled_total`); logged once per URL with the count.',
    hint: 'Nothing if the removal was meant; otherwise register the URL again (only new events are sent).',
  },
  UCW_WARN_DELIVERY_URL_FAILING: {
    kind: 'warning',
    meaning:
      'A URL failed 5 times in a row: it is marked failing and probed one delivery at a ' +
      'time until it answers (its events wait in the state store); logged once per outage.',
    hint: 'Fix or scale the receiver; `ucw_urls_failing` shows how many URLs are failing.',
  },
} as const satisfies CodeTable;

/** Every code the bridge reports, error or warning. */
export type Code = keyof typeof CODES;
/** Codes of thrown BridgeErrors. */
export type ErrorCode = Extract<Code, `UCW_ERR_${string}`>;
/** Codes of warning log lines (the `code` field): write `code: 'UCW_WARN_...' satisfies WarningCode`. */
export type WarningCode = Extract<Code, `UCW_WARN_${string}`>;
