-- The bridge's MySQL account with the least it needs: stream the binlog (REPLICATION SLAVE), read
-- the binlog position (REPLICATION CLIENT) and look up users/dispositions/webhooks (SELECT).
-- caching_sha2_password: MySQL 8.4 disables mysql_native_password by default; mysql2 supports it.
-- Demo password only: keep it in step with UCW_MYSQL_URL in compose.yaml, change both for real use.

CREATE USER IF NOT EXISTS 'ucw_bridge'@'%' IDENTIFIED WITH caching_sha2_password BY 'ucw-bridge-demo-password';
GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'ucw_bridge'@'%';
GRANT SELECT ON ccdata.* TO 'ucw_bridge'@'%';
GRANT SELECT ON ccrepo.* TO 'ucw_bridge'@'%';
