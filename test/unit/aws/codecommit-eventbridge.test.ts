import {
  CodeCommitClient,
  GetBlobCommand,
  GetDifferencesCommand,
  GetFolderCommand,
} from '@aws-sdk/client-codecommit';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { CodeCommitSource } from '../../../reconciler/src/adapters/aws/codecommit-source.js';
import { EventBridgeSink, EventPublishError } from '../../../reconciler/src/adapters/aws/eventbridge-sink.js';

const cc = mockClient(CodeCommitClient);
const eb = mockClient(EventBridgeClient);
afterEach(() => {
  cc.reset();
  eb.reset();
});
const text = (s: string) => new TextEncoder().encode(s);

describe('CodeCommitSource', () => {
  it('reads users/ at a commit: GetFolder down every sub-folder, GetBlob per YAML file, nothing else', async () => {
    cc.on(GetFolderCommand, { folderPath: 'users' }).resolves({
      files: [
        { absolutePath: 'users/payments-prod.yaml', blobId: 'b1' },
        { absolutePath: 'users/README.md', blobId: 'b2' },
      ],
      subFolders: [{ absolutePath: 'users/111122223333' }],
    });
    cc.on(GetFolderCommand, { folderPath: 'users/111122223333' }).resolves({
      files: [{ absolutePath: 'users/111122223333/shop.yml', blobId: 'b3' }],
    });
    cc.on(GetBlobCommand, { blobId: 'b1' }).resolves({ content: text('account: "111122223333"\n') });
    cc.on(GetBlobCommand, { blobId: 'b3' }).resolves({ content: Uint8Array.from([0x63, 0x61, 0x66, 0xe9]) });
    const files = await new CodeCommitSource('users-repo', new CodeCommitClient({})).readTree('7f0103fMERGE');
    expect(cc.calls().map((c) => [c.args[0].constructor.name, c.args[0].input])).toEqual([
      [
        'GetFolderCommand',
        { repositoryName: 'users-repo', commitSpecifier: '7f0103fMERGE', folderPath: 'users' },
      ],
      [
        'GetFolderCommand',
        { repositoryName: 'users-repo', commitSpecifier: '7f0103fMERGE', folderPath: 'users/111122223333' },
      ],
      ['GetBlobCommand', { repositoryName: 'users-repo', blobId: 'b3' }],
      ['GetBlobCommand', { repositoryName: 'users-repo', blobId: 'b1' }],
    ]);
    expect([...files]).toEqual([
      ['users/111122223333/shop.yml', { code: 'ENCODING', reason: expect.stringMatching(/not UTF-8/) }],
      ['users/payments-prod.yaml', 'account: "111122223333"\n'],
    ]);
  });

  it('lists the account files a push changed, over every page of GetDifferences, deletions included', async () => {
    cc.on(GetDifferencesCommand)
      .resolvesOnce({
        differences: [{ afterBlob: { path: 'users/a.yaml', blobId: 'x' }, changeType: 'M' }],
        NextToken: 'page-2',
      })
      .resolvesOnce({
        differences: [
          { beforeBlob: { path: 'users/b.yaml', blobId: 'y' }, changeType: 'D' },
          { afterBlob: { path: 'users/notes.txt', blobId: 'z' } },
        ],
      });
    const changed = await new CodeCommitSource('users-repo', new CodeCommitClient({})).changedFiles(
      'old',
      'new',
    );
    expect(changed).toEqual(['users/a.yaml', 'users/b.yaml']);
    expect(cc.commandCalls(GetDifferencesCommand).map((c) => c.args[0].input)).toEqual([
      {
        repositoryName: 'users-repo',
        beforeCommitSpecifier: 'old',
        afterCommitSpecifier: 'new',
        beforePath: 'users',
        afterPath: 'users',
        NextToken: undefined,
      },
      {
        repositoryName: 'users-repo',
        beforeCommitSpecifier: 'old',
        afterCommitSpecifier: 'new',
        beforePath: 'users',
        afterPath: 'users',
        NextToken: 'page-2',
      },
    ]);
  });
});

describe('EventBridgeSink', () => {
  it('puts one entry per event on the bus, source dbusers', async () => {
    eb.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e' }] });
    await new EventBridgeSink('dbusers', new EventBridgeClient({})).publish({
      type: 'Drift Detected',
      detail: { revision: 'abc', plan: { actions: [] } },
    });
    expect(eb.commandCalls(PutEventsCommand).map((c) => c.args[0].input)).toEqual([
      {
        Entries: [
          {
            Source: 'dbusers',
            DetailType: 'Drift Detected',
            Detail: '{"revision":"abc","plan":{"actions":[]}}',
            EventBusName: 'dbusers',
          },
        ],
      },
    ]);
  });

  it('shrinks plans to their counts past 256 KB, and says when EventBridge refuses an entry', async () => {
    eb.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e' }] });
    const plans = [
      {
        alias: 'p',
        cluster: 'c',
        actions: Array.from({ length: 5000 }, (_, i) => ({
          kind: 'create_user',
          user: `user${i}`,
          reason: 'missing'.repeat(10),
        })),
        skipped: [],
      },
    ];
    await new EventBridgeSink('dbusers', new EventBridgeClient({})).publish({
      type: 'Plan Computed',
      detail: { plans },
    });
    const detail = JSON.parse(eb.commandCalls(PutEventsCommand)[0]!.args[0].input.Entries![0]!.Detail!);
    expect(detail).toEqual({ plans: [{ cluster: 'p/c', actions: 5000, skipped: 0 }], truncated: true });
    eb.on(PutEventsCommand).resolves({
      FailedEntryCount: 1,
      Entries: [{ ErrorCode: 'AccessDeniedException', ErrorMessage: 'not authorized' }],
    });
    await expect(
      new EventBridgeSink('dbusers', new EventBridgeClient({})).publish({ type: 'x', detail: {} }),
    ).rejects.toThrow(EventPublishError);
  });
});
