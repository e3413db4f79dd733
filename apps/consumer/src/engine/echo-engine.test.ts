import { EngineError } from '../errors';
import { EchoEngine } from './echo-engine';

describe('EchoEngine', () => {
  it('echoes the prompt n times with token usage', async () => {
    const r = await new EchoEngine().submit({ id: 'a', prompt: 'hello big world', sampling: { n: 2 } });
    expect(r.outputs).toEqual([
      { index: 0, text: 'hello big world', finish_reason: 'stop', cumulative_logprob: 0 },
      { index: 1, text: 'hello big world', finish_reason: 'stop', cumulative_logprob: 0 },
    ]);
    expect(r.usage).toEqual({ prompt_tokens: 3, completion_tokens: 6, cached_tokens: 0 });
  });

  it('renders chat messages', async () => {
    const r = await new EchoEngine().submit({ id: 'a', messages: [{ role: 'user', content: 'hi' }], sampling: {} });
    expect(r.outputs[0].text).toBe('user: hi');
  });

  it('counts running jobs and aborts them with a typed error', async () => {
    const e = new EchoEngine({ delayMs: 10_000 });
    const p = e.submit({ id: 'slow', prompt: 'x', sampling: {} });
    expect(e.load().running).toBe(1);
    e.abort('slow');
    await expect(p).rejects.toBeInstanceOf(EngineError);
    await expect(p).rejects.toMatchObject({ code: 'ABORTED' });
    expect(e.load().running).toBe(0);
  });

  it('refuses work after shutdown', async () => {
    const e = new EchoEngine();
    await e.shutdown();
    await expect(e.submit({ id: 'a', prompt: 'x', sampling: {} })).rejects.toMatchObject({ code: 'SHUT_DOWN' });
  });
});
