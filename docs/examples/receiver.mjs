// A receiver for ucontact-webhooks: checks the Standard Webhooks signature over the raw body, drops
// repeats by webhook-id, and reads the CloudEvents attributes. Needs: npm install standardwebhooks cloudevents
// Run: WEBHOOK_SECRET=whsec_... PORT=8080 node receiver.mjs
import http from 'node:http';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { HTTP } from 'cloudevents';

// The bridge's --signing-secret in its whsec_<base64> form.
const webhook = new Webhook(process.env.WEBHOOK_SECRET);
// webhook-ids already handled. In production: a table with a unique key, written with the work itself.
const seen = new Set();

function handle(body, headers) {
  try {
    webhook.verify(body, headers); // throws unless one v1 signature matches and the timestamp is within 5 min
  } catch (err) {
    if (err instanceof WebhookVerificationError) return 401;
    throw err;
  }
  const id = headers['webhook-id'];
  if (seen.has(id)) {
    console.log(JSON.stringify({ duplicate: id })); // a retry or replay of an event already handled: acknowledge
    return 200;
  }
  const event = HTTP.toEvent({ headers, body }); // id, type, source, time; data = the uContact JSON body
  console.log(
    JSON.stringify({ id: event.id, type: event.type, source: event.source, time: event.time, data: event.data }),
  );
  seen.add(id); // only once the work is done: a failed attempt is retried by the bridge
  return 200;
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    // Verify the bytes as received: re-serialised JSON would not match the signature.
    const status = handle(Buffer.concat(chunks).toString('utf8'), req.headers);
    res.writeHead(status).end();
  });
});
server.listen(Number(process.env.PORT ?? 8080), process.env.HOST ?? '127.0.0.1', () => {
  console.log(JSON.stringify({ listening: server.address().port }));
});
