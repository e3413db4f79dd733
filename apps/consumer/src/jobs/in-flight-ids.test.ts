import { InFlightIds } from './in-flight-ids';

describe('InFlightIds', () => {
  it('claims the first copy of a (batch_id, job_id) and names it to later copies', () => {
    const ids = new InFlightIds();
    expect(ids.claim('b', 'j', { partition: 0, offset: 5n })).toBeUndefined();
    expect(ids.claim('b', 'j', { partition: 1, offset: 9n })).toEqual({ partition: 0, offset: 5n });
    expect(ids.claim('other', 'j', { partition: 0, offset: 6n })).toBeUndefined(); // another batch's job of that id is not a copy
    expect(ids.claim('b:j', '', { partition: 0, offset: 7n })).toBeUndefined(); // keys cannot run into each other
  });

  it('forgets a job once its offset is committed, and every job of a dropped partition', () => {
    const ids = new InFlightIds();
    ids.claim('b', 'a', { partition: 0, offset: 1n });
    ids.claim('b', 'c', { partition: 0, offset: 3n });
    ids.claim('b', 'd', { partition: 1, offset: 1n });
    ids.release(0, 2n);
    expect(ids.claim('b', 'a', { partition: 0, offset: 10n })).toBeUndefined(); // committed: a later copy runs
    expect(ids.claim('b', 'c', { partition: 0, offset: 11n })).toEqual({ partition: 0, offset: 3n });
    ids.dropPartition(1);
    expect(ids.claim('b', 'd', { partition: 2, offset: 1n })).toBeUndefined();
    ids.release(0, 100n);
    ids.release(2, 100n);
    expect(ids.size).toBe(0);
  });
});
