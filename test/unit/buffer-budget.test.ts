// The budget of buffered deliveries alone, in exact figures: one budget in bytes for all URLs, each
// URL at most max(its fair share, what the others leave unused), room owed to a URL waiting below its
// share taken from those above theirs.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BufferBudget, type BudgetAccount } from '../../src/delivery/buffer-budget.js';

const account = (): BudgetAccount => ({ bytes: 0, active: false, starving: false });

void describe('BufferBudget', () => {
  void it('one URL alone may take the whole budget; the bound is all URLs together', () => {
    const budget = new BufferBudget(1_000);
    const a = account();
    budget.set(a, true, false);
    assert.equal(budget.fairShare, 1_000);
    assert.equal(budget.limitOf(a), 1_000);
    budget.add(a, 900);
    assert.equal(budget.roomOf(a), 100);
    budget.add(a, 100);
    assert.equal(budget.roomOf(a), 0);
    assert.equal(budget.total, 1_000);
  });

  void it('a URL may use what the others leave unused, beyond its fair share', () => {
    const budget = new BufferBudget(1_000);
    const [a, b] = [account(), account()];
    budget.set(a, true, false);
    budget.set(b, true, false);
    budget.add(b, 100);
    assert.equal(budget.fairShare, 500);
    assert.equal(budget.limitOf(a), 900, 'b holds 100 and waits for nothing: the other 900 are a\u2019s');
    assert.equal(budget.roomOf(a), 900);
  });

  void it('a URL waiting below its fair share is owed it: others stop at theirs, the one above sheds', () => {
    const budget = new BufferBudget(1_000);
    const [slow, fast] = [account(), account()];
    budget.set(slow, true, false);
    budget.add(slow, 900);
    // A second URL gets deliveries it cannot buffer: they wait in the store.
    budget.set(fast, true, true);
    assert.equal(budget.fairShare, 500);
    assert.equal(budget.limitOf(slow), 500, '1,000 less the 500 owed to the waiting URL');
    assert.equal(budget.roomOf(slow), 0);
    assert.equal(budget.excessOf(slow), 400);
    assert.equal(budget.roomOf(fast), 100, 'what is free now');
    assert.equal(budget.shortfall(fast, 500), 400, 'the slow URL must shed 400 for the fast one to have its share');
    assert.equal(budget.shortfall(fast, 50), 0);
    budget.remove(slow, 400);
    budget.add(fast, 500);
    assert.equal(budget.total, 1_000);
    assert.equal(budget.roomOf(fast), 0);
    assert.equal(budget.shortfall(fast, 100), 0, 'at its fair share, a URL takes nothing more from others');
  });

  void it('the fair share is split among the URLs with deliveries to send; a stalled one sheds all it holds', () => {
    const budget = new BufferBudget(1_200);
    const urls = [account(), account(), account()];
    for (const u of urls) budget.set(u, true, false);
    assert.equal(budget.fairShare, 400);
    budget.add(urls[2]!, 300);
    budget.set(urls[2]!, false, false);
    assert.equal(budget.fairShare, 600, 'failing or paused, or nothing pending: out of the split');
    assert.equal(budget.excessOf(urls[2]!), 300);
    budget.set(urls[0]!, true, true);
    budget.set(urls[1]!, true, true);
    assert.equal(budget.limitOf(urls[0]!), 600);
    assert.equal(budget.roomOf(urls[0]!), 600);
    budget.add(urls[0]!, 600);
    assert.equal(budget.roomOf(urls[1]!), 300, 'the 300 the stalled URL holds are not free');
    assert.equal(budget.shortfall(urls[1]!, 600), 300);
  });
});
