// The rules shipped with the bridge: the reference uContact schema (ccdata/ccrepo) mapped to the six
// events. Operators with another schema copy this (`ucontact-webhooks rules print-default`) and edit
// the copy; the bridge's code never changes per install.

import type { Condition, RulesFileInput, Source } from './schema.js';

/** The agent column may hold a username or a channel such as SIP/2001: resolve both to the user. */
const agentUsername: Source = {
  coalesce: [{ lookup: { directory: 'users', key: { column: 'agent' }, column: 'username' } }, { column: 'agent' }],
};

/** The leg's fields AssignInteraction and FinishInteraction share, in payload order. */
const interactionLeg: Record<string, Source> = {
  guid: { column: 'guid' },
  campaign: { column: 'campaign' },
  agent: { column: 'agent' },
  channel: { column: 'channel' },
  clientId: { column: 'clientId' },
};

/** The agent column holds a value (neither NULL nor empty) on one side of the change. */
function hasAgent(row: 'new' | 'old'): Condition {
  return {
    all: [
      { column: 'agent', row, isNull: false },
      { column: 'agent', row, ne: '' },
    ],
  };
}

export const DEFAULT_RULES: RulesFileInput = {
  version: 1,
  sourceTimezone: 'UTC',
  registry: { table: 'ccdata.webhooks', key: 'id', eventColumn: 'event', urlColumn: 'url' },
  directories: {
    users: {
      table: 'ccdata.users',
      key: 'username',
      match: [{ column: 'username' }, { column: 'phone', pattern: '^(?:SIP|PJSIP|IAX2|DAHDI|Local)/([^/@;-]+)' }],
    },
    dispositions: {
      table: 'ccdata.dispositions',
      key: 'id',
      parent: { column: 'parentId', root: 0 },
    },
  },
  memories: {
    callerByCallid: {
      table: 'ccrepo.queue_log_repo',
      when: { column: 'event', eq: 'ENTERQUEUE' },
      key: 'callid',
      value: 'data2',
      orderBy: 'id',
    },
  },
  rules: [
    {
      id: 'agent_log',
      event: 'AgentLog',
      table: 'ccrepo.queue_log_repo',
      on: ['insert'],
      when: { column: 'event', in: ['AGENTLOGIN', 'AGENTLOGOFF'] },
      date: { column: 'time' },
      orderKey: 'agent',
      fields: {
        agent: agentUsername,
        isLogin: { test: { column: 'event', eq: 'AGENTLOGIN' } },
      },
    },
    {
      id: 'agent_break',
      event: 'AgentBreak',
      table: 'ccrepo.queue_log_repo',
      on: ['insert'],
      when: { column: 'event', in: ['PAUSE', 'UNPAUSE'] },
      date: { column: 'time' },
      orderKey: 'agent',
      fields: {
        agent: agentUsername,
        motive: { column: 'data1' },
        isBreak: { test: { column: 'event', eq: 'PAUSE' } },
      },
    },
    {
      id: 'agent_ring_no_answer',
      event: 'AgentRingNoAnswer',
      table: 'ccrepo.queue_log_repo',
      on: ['insert'],
      when: { column: 'event', eq: 'RINGNOANSWER' },
      date: { column: 'time' },
      orderKey: 'agent',
      fields: {
        agent: agentUsername,
        agentNumber: { lookup: { directory: 'users', key: { column: 'agent' }, column: 'phone' } },
        agentFullName: { lookup: { directory: 'users', key: { column: 'agent' }, column: 'name' } },
        callerIdNum: { remembered: { memory: 'callerByCallid', key: { column: 'callid' } } },
        campaign: { column: 'queuename' },
      },
    },
    // Before finish_interaction: a leg inserted already finished reads assigned, then finished.
    {
      id: 'assign_interaction',
      event: 'AssignInteraction',
      table: 'ccrepo.interactions',
      on: ['insert', 'update'],
      when: {
        any: [
          { all: [{ change: 'insert' }, hasAgent('new')] },
          { all: [{ change: 'update' }, { not: hasAgent('old') }, hasAgent('new')] },
        ],
      },
      date: { column: 'start_date' },
      orderKey: 'guid',
      fields: {
        ...interactionLeg,
      },
    },
    {
      id: 'finish_interaction',
      event: 'FinishInteraction',
      table: 'ccrepo.interactions',
      on: ['insert', 'update'],
      when: {
        any: [
          { all: [{ change: 'insert' }, { column: 'finished', truthy: true }] },
          {
            all: [
              { change: 'update' },
              { column: 'finished', row: 'old', truthy: false },
              { column: 'finished', truthy: true },
            ],
          },
        ],
      },
      date: { column: 'end_date' },
      orderKey: 'guid',
      fields: {
        ...interactionLeg,
        startDate: { column: 'start_date' },
        endDate: { column: 'end_date' },
        duration: { secondsBetween: [{ column: 'start_date' }, { column: 'end_date' }] },
      },
    },
    {
      id: 'interaction_disposition',
      event: 'InteractionDisposition',
      table: 'ccrepo.interactions',
      on: ['insert', 'update'],
      when: {
        all: [
          { column: 'channel', eq: 'telephony' },
          { column: 'disposition_id', truthy: true },
          { any: [{ change: 'insert' }, { column: 'disposition_id', row: 'old', truthy: false }] },
        ],
      },
      orderKey: 'guid',
      fields: {
        guid: { column: 'guid' },
        campaign: { column: 'campaign' },
        agent: { column: 'agent' },
        clientId: { column: 'clientId' },
        dispositionId: { column: 'disposition_id' },
        l1: { lookup: { directory: 'dispositions', key: { column: 'disposition_id' }, column: 'value', level: 1 } },
        l2: { lookup: { directory: 'dispositions', key: { column: 'disposition_id' }, column: 'value', level: 2 } },
        l3: { lookup: { directory: 'dispositions', key: { column: 'disposition_id' }, column: 'value', level: 3 } },
      },
    },
  ],
};
