/**
 * The CDK app: the central stack and one database stack per account and Region that users/ names.
 * Usage: npm run synth (the example deployment), or npm run cdk -- deploy … -c config=FILE.
 * Context: `config` (the deployment file, required), `users` (@default "users"), `bundleDir`
 * (@default "dist", written by `npm run bundle`). cdk-nag's AWS Solutions checks run on every synth.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { DeploymentError, readDeployment } from './src/deployment.js';
import { buildApp } from './src/app.js';

const app = new App();
const config = app.node.tryGetContext('config') as string | undefined;
const bundleDir = (app.node.tryGetContext('bundleDir') as string | undefined) ?? 'dist';
try {
  if (!config)
    throw new DeploymentError([
      'no deployment file: pass -c config=FILE (see infra/deployment.example.json)',
    ]);
  const plan = await readDeployment(
    (app.node.tryGetContext('users') as string | undefined) ?? 'users',
    config,
  );
  const missing = ['executor', 'reconciler']
    .map((name) => join(bundleDir, name, 'index.mjs'))
    .filter((file) => !existsSync(file));
  if (missing.length > 0)
    throw new DeploymentError(missing.map((f) => `${f} is missing: run npm run bundle first`));
  buildApp(app, plan, bundleDir);
  app.synth();
} catch (error) {
  if (!(error instanceof DeploymentError)) throw error;
  process.stderr.write(`dbusers infra: ${error.message}\n`);
  process.exit(1);
}
