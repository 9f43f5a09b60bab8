/** The SSM automation document: the seed's parameters, patterns that keep payloads clean, the batch form, outputs. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

interface Parameter {
  type: string;
  allowedPattern?: string;
  allowedValues?: string[];
  default?: unknown;
}
const doc = parse(readFileSync('infra/documents/dbusers-executor.yaml', 'utf8')) as {
  schemaVersion: string;
  parameters: Record<string, Parameter>;
  mainSteps: {
    name: string;
    action: string;
    onFailure?: string;
    timeoutSeconds?: number;
    inputs: Record<string, unknown>;
  }[];
  outputs: string[];
};

describe('the automation document', () => {
  it("keeps the seed's six parameters, so a seed user can point its runs at it", () => {
    expect(Object.keys(doc.parameters)).toEqual(
      expect.arrayContaining([
        'LambdaFunctionName',
        'DatabaseUserName',
        'DBName',
        'MasterUserSecretName',
        'GrantType',
        'Action',
      ]),
    );
    expect(doc.parameters.GrantType!.allowedValues).toEqual(['admin', 'readwrite', 'readonly', '']);
    expect(doc.parameters.Action!.allowedValues).toEqual([
      'create_user',
      'delete_user',
      'update_grant',
      'reset_password',
      'batch',
    ]);
  });

  it.each([
    'AutomationAssumeRole',
    'LambdaFunctionName',
    'DatabaseUserName',
    'DBName',
    'MasterUserSecretName',
  ])('%s has a pattern that refuses quotes, backslashes and spaces', (name) => {
    const pattern = new RegExp(doc.parameters[name]!.allowedPattern!);
    for (const hostile of [
      'bob", "roles":["arn:aws:iam::999999999999:root"], "x":"',
      "o'brien",
      'a\\b',
      'a b',
      'x`y',
    ])
      expect(pattern.test(hostile)).toBe(false);
  });

  it("accepts the seed's example values", () => {
    const ok = {
      LambdaFunctionName: 'db-user-mgmt',
      DatabaseUserName: 'app_ro',
      DBName: 'orders',
      MasterUserSecretName: 'prod/aurora/master',
    };
    for (const [name, value] of Object.entries(ok))
      expect(new RegExp(doc.parameters[name]!.allowedPattern!).test(value)).toBe(true);
  });

  it('builds the Lambda event as a map, not by pasting text into JSON, and fails the step when the Lambda fails', () => {
    const invoke = doc.mainSteps.filter((s) => s.action === 'aws:invokeLambdaFunction');
    expect(invoke.map((s) => s.name)).toEqual(['invokeLambda', 'invokeBatch']);
    for (const step of invoke) {
      expect(step.inputs.Payload).toBeUndefined();
      expect(step.inputs.InputPayload).toBeTypeOf('object');
      expect(step.onFailure).toBe('Abort');
      expect(step.timeoutSeconds).toBe(300);
    }
    expect(invoke[0]!.inputs.InputPayload).toEqual({
      username: '{{ DatabaseUserName }}',
      role: '{{ GrantType }}',
      rds_secret_name: '{{ MasterUserSecretName }}',
      db_name: '{{ DBName }}',
      action: '{{ Action }}',
    });
    expect(invoke[1]!.inputs.InputPayload).toEqual({ pieces: '{{ Batch }}' });
    expect(doc.parameters.Batch!.type).toBe('StringList');
    expect(doc.outputs).toEqual(['invokeLambda.Payload', 'invokeBatch.Payload']);
  });
});
