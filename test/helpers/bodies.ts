// Reading recorded webhook bodies: the one place the tests take an event's agent from its body.

/** The `agent` field of a webhook body (JSON text). */
export const agentOf = (body: string): string => (JSON.parse(body) as { agent: string }).agent;
