-- Reference uContact schema (ucontact-webhooks): ccdata = configuration, ccrepo = history.
-- Column names follow uContact's public docs and Asterisk's queue_log layout. Times are UTC.
-- Runs on MySQL 5.7/8.x and MariaDB 10.6+; every statement is idempotent except the seed INSERT.

CREATE DATABASE IF NOT EXISTS ccdata DEFAULT CHARACTER SET utf8mb4;
CREATE DATABASE IF NOT EXISTS ccrepo DEFAULT CHARACTER SET utf8mb4;

-- Agents. username is the agent id in events; phone is the PBX extension used to resolve
-- channel-style agents such as 'PJSIP/2001'.
CREATE TABLE IF NOT EXISTS ccdata.users (
  username VARCHAR(80)  NOT NULL PRIMARY KEY,
  phone    VARCHAR(40)  NULL,
  name     VARCHAR(200) NULL,
  email    VARCHAR(200) NULL,
  profile  VARCHAR(80)  NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Webhook registrations, one row per (event, url); an empty or NULL url registers nothing.
CREATE TABLE IF NOT EXISTS ccdata.webhooks (
  id          INT          NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name        VARCHAR(100) NOT NULL,
  description VARCHAR(255) NULL,
  event       VARCHAR(64)  NOT NULL,
  url         VARCHAR(256) NULL,
  user        VARCHAR(80)  NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Disposition tree. parentId 0 marks a first-level value; campaign NULL applies to all campaigns.
CREATE TABLE IF NOT EXISTS ccdata.dispositions (
  id           INT          NOT NULL AUTO_INCREMENT PRIMARY KEY,
  parentId     INT          NOT NULL DEFAULT 0,
  value        VARCHAR(200) NOT NULL,
  campaign     VARCHAR(200) NULL,
  channels     VARCHAR(200) NULL,
  validAsFinal TINYINT(1)   NOT NULL DEFAULT 1,
  parentIds    VARCHAR(200) NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Agent activity, one row per fact (Asterisk queue_log layout). Events read by the default rules:
-- AGENTLOGIN/AGENTLOGOFF -> AgentLog; PAUSE/UNPAUSE (data1 = reason) -> AgentBreak;
-- RINGNOANSWER (queuename = campaign, data1 = ring ms) -> AgentRingNoAnswer;
-- ENTERQUEUE (data2 = caller number) emits nothing but supplies callerIdNum via callid.
CREATE TABLE IF NOT EXISTS ccrepo.queue_log_repo (
  id        BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
  time      DATETIME(3)  NOT NULL,
  callid    VARCHAR(80)  NOT NULL DEFAULT '',
  queuename VARCHAR(200) NOT NULL DEFAULT '',
  agent     VARCHAR(80)  NOT NULL DEFAULT '',
  event     VARCHAR(32)  NOT NULL,
  data1     VARCHAR(200) NULL,
  data2     VARCHAR(200) NULL,
  data3     VARCHAR(200) NULL,
  data4     VARCHAR(200) NULL,
  data5     VARCHAR(200) NULL,
  KEY idx_callid (callid),
  KEY idx_time (time)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Interactions, one row per leg; legs of one interaction share guid. A leg that ends (finished
-- 0 -> 1) or is inserted finished -> FinishInteraction; disposition_id set on a telephony leg
-- -> InteractionDisposition; agent set (on insert, or NULL/empty -> a value) -> AssignInteraction.
CREATE TABLE IF NOT EXISTS ccrepo.interactions (
  id             BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
  guid           VARCHAR(80)  NOT NULL,
  start_date     DATETIME     NOT NULL,
  end_date       DATETIME     NULL,
  campaign       VARCHAR(200) NOT NULL,
  channel        VARCHAR(24)  NOT NULL,
  agent          VARCHAR(80)  NULL,
  data           JSON         NULL,
  contact        JSON         NULL,
  clientId       VARCHAR(200) NULL,
  disposition_id INT          NULL,
  dispositionIds VARCHAR(200) NULL,
  finished       TINYINT(1)   NOT NULL DEFAULT 0,
  KEY idx_guid (guid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- As uContact ships it: one row per event, url empty (nothing registered yet).
INSERT INTO ccdata.webhooks (name, description, event, url, user) VALUES
  ('AgentRingNoAnswer',      'Agent did not answer within the ring time', 'AgentRingNoAnswer',      '', NULL),
  ('AgentLog',               'Agent login or logoff',                     'AgentLog',               '', NULL),
  ('AgentBreak',             'Agent break on or off',                     'AgentBreak',             '', NULL),
  ('FinishInteraction',      'Interaction finished on any channel',       'FinishInteraction',      '', NULL),
  ('InteractionDisposition', 'Telephony interaction dispositioned',       'InteractionDisposition', '', NULL),
  ('AssignInteraction',      'Interaction assigned to an agent',          'AssignInteraction',      '', NULL);
