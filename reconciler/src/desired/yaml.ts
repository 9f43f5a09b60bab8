/** The YAML of an account file, as users.schema.json admits it. */
import type { Engine } from '../model/types.js';

/** The YAML of one user or role entry, as the schema admits it. */
export interface GrantYaml {
  database?: string;
  pattern?: boolean;
  profile?: 'readonly' | 'readwrite' | 'admin';
  on?: string;
  privileges?: string[];
  columns?: string[];
  withGrantOption?: boolean;
}
/** A role held: by name, or with how it is held (the admin option, not a default role). */
export type RoleRefYaml = string | { name: string; admin?: boolean; default?: boolean };
export interface UserYaml {
  name: string;
  host?: string;
  cluster: string;
  auth?: 'password' | 'iam';
  grants?: GrantYaml[];
  roles?: RoleRefYaml[];
  rotationDays?: number;
  adopt?: boolean;
  secretName?: string;
  iamPrincipals?: string[];
}
export interface RoleYaml {
  grants?: GrantYaml[];
  roles?: RoleRefYaml[];
  clusters?: string[];
  adopt?: boolean;
}
export interface ClusterYaml {
  name: string;
  region: string;
  engine: Engine;
  engineVersion?: string;
  endpoint: string;
  port: number;
  masterSecretArn: string;
  resourceId?: string;
  databases: string[];
}
export interface ExceptionYaml {
  account: string;
  on: string;
  pattern?: boolean;
  privileges: string[];
  reason: string;
}
export interface FileYaml {
  account: string;
  alias: string;
  privilegeExceptions?: ExceptionYaml[];
  secretNameTemplate?: string;
  protected?: string[];
  drift?: { remediate?: boolean };
  onDigestMismatch?: 'apply' | 'refuse';
  clusters: ClusterYaml[];
  roles?: Record<string, RoleYaml>;
  /** A user with schema errors is a hole (undefined): the others keep their positions. */
  users?: (UserYaml | undefined)[];
}
