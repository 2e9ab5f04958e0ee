/* The migrations of slipway.db.  Version N of the schema is state_migrations[0..N-1]. */
#include "schema.h"

#include "macro.h"

const Migration state_migrations[] = {
        {
                .name = "images and tags",
                .sql = "CREATE TABLE images ("
                       "  digest TEXT PRIMARY KEY NOT NULL,"
                       "  media_type TEXT NOT NULL,"
                       "  size INTEGER NOT NULL,"          /* manifest + config + compressed layers */
                       "  manifest_size INTEGER NOT NULL," /* for the index.json descriptor */
                       "  config_digest TEXT NOT NULL,"
                       "  layers INTEGER NOT NULL,"
                       "  created TEXT,"                /* the config's 'created', if any */
                       "  imported_at INTEGER NOT NULL" /* seconds since the epoch */
                       ");"
                       "CREATE TABLE tags ("
                       "  name TEXT PRIMARY KEY NOT NULL,"
                       "  digest TEXT NOT NULL REFERENCES images(digest) ON DELETE RESTRICT"
                       ");"
                       "CREATE INDEX tags_by_digest ON tags(digest);",
        },
        {
                /* One row per executed build step: key = sha256 over the parent key, the expanded
                 * instruction, the build args in effect and the sources' checksum (builder-cache.c).
                 * state is the stage's JSON state after the step; layer_digest the blob the step
                 * added (NULL for config-only steps).  Blobs are not gc roots: a row whose blob is gone
                 * is a miss and is pruned. */
                .name = "build cache",
                .sql = "CREATE TABLE build_cache ("
                       "  key TEXT PRIMARY KEY NOT NULL,"
                       "  state TEXT NOT NULL,"
                       "  layer_digest TEXT,"
                       "  created INTEGER NOT NULL"
                       ");",
        },
        {
                /* Issue 5: projects with ordered environments, components, releases and instances.
                 * The database is the source of truth: networks, containers and proxy routes are
                 * rebuilt from these rows at daemon start.  Specs are JSON documents owned by
                 * appliance/deploy (endpoints, health checks, resources) so they can grow without
                 * a migration per field. */
                .name = "projects, environments, components, releases, instances",
                .sql = "CREATE TABLE projects ("
                       "  id INTEGER PRIMARY KEY,"
                       "  name TEXT UNIQUE NOT NULL,"
                       "  created_at INTEGER NOT NULL"
                       ");"
                       "CREATE TABLE environments ("
                       "  id INTEGER PRIMARY KEY,"
                       "  project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,"
                       "  name TEXT NOT NULL,"
                       "  position INTEGER NOT NULL,"   /* promotion order, 0 = first */
                       "  subnet TEXT UNIQUE NOT NULL," /* e.g. 10.213.3.0/24; host owns .1 */
                       "  bridge TEXT UNIQUE NOT NULL," /* interface name, <= 15 chars */
                       "  ingress_port INTEGER UNIQUE NOT NULL,"
                       "  domain TEXT,"
                       "  egress INTEGER NOT NULL DEFAULT 0,"
                       "  created_at INTEGER NOT NULL,"
                       "  UNIQUE (project_id, name),"
                       "  UNIQUE (project_id, position)"
                       ");"
                       "CREATE TABLE components ("
                       "  id INTEGER PRIMARY KEY,"
                       "  project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,"
                       "  name TEXT NOT NULL,"
                       "  image_ref TEXT,"     /* default image for deploys */
                       "  spec TEXT NOT NULL," /* JSON: endpoints, health, resources */
                       "  created_at INTEGER NOT NULL,"
                       "  UNIQUE (project_id, name)"
                       ");"
                       /* The stable per-(component, environment) address the proxy listens on. */
                       "CREATE TABLE service_addresses ("
                       "  component_id INTEGER NOT NULL REFERENCES components(id) ON DELETE CASCADE,"
                       "  environment_id INTEGER NOT NULL REFERENCES environments(id) ON DELETE CASCADE,"
                       "  address TEXT UNIQUE NOT NULL,"
                       "  PRIMARY KEY (component_id, environment_id)"
                       ");"
                       "CREATE TABLE releases ("
                       "  id INTEGER PRIMARY KEY,"
                       "  component_id INTEGER NOT NULL REFERENCES components(id) ON DELETE CASCADE,"
                       "  environment_id INTEGER NOT NULL REFERENCES environments(id) ON DELETE CASCADE,"
                       "  image_digest TEXT NOT NULL," /* a gc root while the row exists */
                       "  spec TEXT NOT NULL,"         /* JSON snapshot of the component spec */
                       "  status TEXT NOT NULL,"       /* pending|deploying|live|failed|superseded */
                       "  reason TEXT,"
                       "  created_at INTEGER NOT NULL,"
                       "  finished_at INTEGER"
                       ");"
                       "CREATE INDEX releases_by_target ON releases(component_id, environment_id, id);"
                       "CREATE TABLE instances ("
                       "  id INTEGER PRIMARY KEY,"
                       "  release_id INTEGER NOT NULL REFERENCES releases(id) ON DELETE CASCADE,"
                       "  address TEXT NOT NULL," /* the instance's own address */
                       "  netns TEXT NOT NULL,"
                       "  dir TEXT NOT NULL,"   /* DIR/instances/<id> */
                       "  state TEXT NOT NULL," /* starting|ready|draining|stopped|failed */
                       "  restarts INTEGER NOT NULL DEFAULT 0,"
                       "  created_at INTEGER NOT NULL"
                       ");"
                       "CREATE TABLE deploy_log ("
                       "  release_id INTEGER NOT NULL REFERENCES releases(id) ON DELETE CASCADE,"
                       "  at INTEGER NOT NULL," /* microseconds since the epoch */
                       "  line TEXT NOT NULL"
                       ");"
                       "CREATE INDEX deploy_log_by_release ON deploy_log(release_id, at);",
        },
        {
                /* Issue 10: row ids are never reused, across the life of the state dir.  Without
                 * AUTOINCREMENT sqlite hands out max(id)+1, so after a project delete the next rows took
                 * the deleted ones' ids, and with them DIR/instances/<id>/ (overlay upper, logs), netns
                 * names, route names and release ids.  sqlite cannot add AUTOINCREMENT to a table, so
                 * each table with an id is rebuilt (parents first, same columns, constraints and rows;
                 * the copy sets sqlite_sequence to the highest id kept) and its index made again.  Child
                 * tables keep referring to the tables by name.  Ids deleted before this migration are
                 * beyond its knowledge; the deployer removes instance directories that no row owns. */
                .name = "ids are never reused",
                .rebuilds_tables = true,
                .sql = "CREATE TABLE projects_new ("
                       "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
                       "  name TEXT UNIQUE NOT NULL,"
                       "  created_at INTEGER NOT NULL"
                       ");"
                       "INSERT INTO projects_new(id, name, created_at) SELECT id, name, created_at FROM projects;"
                       "DROP TABLE projects;"
                       "ALTER TABLE projects_new RENAME TO projects;"
                       "CREATE TABLE environments_new ("
                       "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
                       "  project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,"
                       "  name TEXT NOT NULL,"
                       "  position INTEGER NOT NULL,"
                       "  subnet TEXT UNIQUE NOT NULL,"
                       "  bridge TEXT UNIQUE NOT NULL,"
                       "  ingress_port INTEGER UNIQUE NOT NULL,"
                       "  domain TEXT,"
                       "  egress INTEGER NOT NULL DEFAULT 0,"
                       "  created_at INTEGER NOT NULL,"
                       "  UNIQUE (project_id, name),"
                       "  UNIQUE (project_id, position)"
                       ");"
                       "INSERT INTO environments_new(id, project_id, name, position, subnet, bridge, ingress_port,"
                       "                             domain, egress, created_at)"
                       "  SELECT id, project_id, name, position, subnet, bridge, ingress_port, domain, egress,"
                       "         created_at FROM environments;"
                       "DROP TABLE environments;"
                       "ALTER TABLE environments_new RENAME TO environments;"
                       "CREATE TABLE components_new ("
                       "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
                       "  project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,"
                       "  name TEXT NOT NULL,"
                       "  image_ref TEXT,"
                       "  spec TEXT NOT NULL,"
                       "  created_at INTEGER NOT NULL,"
                       "  UNIQUE (project_id, name)"
                       ");"
                       "INSERT INTO components_new(id, project_id, name, image_ref, spec, created_at)"
                       "  SELECT id, project_id, name, image_ref, spec, created_at FROM components;"
                       "DROP TABLE components;"
                       "ALTER TABLE components_new RENAME TO components;"
                       "CREATE TABLE releases_new ("
                       "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
                       "  component_id INTEGER NOT NULL REFERENCES components(id) ON DELETE CASCADE,"
                       "  environment_id INTEGER NOT NULL REFERENCES environments(id) ON DELETE CASCADE,"
                       "  image_digest TEXT NOT NULL,"
                       "  spec TEXT NOT NULL,"
                       "  status TEXT NOT NULL,"
                       "  reason TEXT,"
                       "  created_at INTEGER NOT NULL,"
                       "  finished_at INTEGER"
                       ");"
                       "INSERT INTO releases_new(id, component_id, environment_id, image_digest, spec, status,"
                       "                         reason, created_at, finished_at)"
                       "  SELECT id, component_id, environment_id, image_digest, spec, status, reason,"
                       "         created_at, finished_at FROM releases;"
                       "DROP TABLE releases;"
                       "ALTER TABLE releases_new RENAME TO releases;"
                       "CREATE INDEX releases_by_target ON releases(component_id, environment_id, id);"
                       "CREATE TABLE instances_new ("
                       "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
                       "  release_id INTEGER NOT NULL REFERENCES releases(id) ON DELETE CASCADE,"
                       "  address TEXT NOT NULL,"
                       "  netns TEXT NOT NULL,"
                       "  dir TEXT NOT NULL,"
                       "  state TEXT NOT NULL,"
                       "  restarts INTEGER NOT NULL DEFAULT 0,"
                       "  created_at INTEGER NOT NULL"
                       ");"
                       "INSERT INTO instances_new(id, release_id, address, netns, dir, state, restarts, created_at)"
                       "  SELECT id, release_id, address, netns, dir, state, restarts, created_at FROM instances;"
                       "DROP TABLE instances;"
                       "ALTER TABLE instances_new RENAME TO instances;",
        },
        {
                /* Issue 11: the vault, config values and what releases pin.
                 * vault_keys: one data key per version, wrapped (XChaCha20-Poly1305) by the master key; the
                 * newest unretired version seals new values.  A retired key has its wrapped bytes erased.
                 * config_values: one row per write of a value (version 1, 2, … per slot; an unset is a
                 * tombstone row with deleted = 1 and no ciphertext).  component_id NULL: shared by every
                 * component of the environment.  The ciphertext's associated data binds it to its slot and
                 * version (appliance/vault), so a row's bytes copied elsewhere fail to open.
                 * release_values: the exact value rows a release was deployed with; a pinned row cannot be
                 * deleted while the release exists.  releases gain where they came from (origin deploy,
                 * promote or rollback; source_release_id the release promoted from or rolled back to) and
                 * the bake window's outcome. */
                .name = "vault, config values, release values",
                .sql = "CREATE TABLE vault_keys ("
                       "  version INTEGER PRIMARY KEY,"
                       "  wrapped_key BLOB," /* NULL once retired */
                       "  nonce BLOB,"
                       "  created_at INTEGER NOT NULL,"
                       "  retired_at INTEGER"
                       ");"
                       "CREATE TABLE vault_meta ("
                       "  name TEXT PRIMARY KEY NOT NULL,"
                       "  value BLOB NOT NULL"
                       ");"
                       "CREATE TABLE config_values ("
                       "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
                       "  project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,"
                       "  environment_id INTEGER NOT NULL REFERENCES environments(id) ON DELETE CASCADE,"
                       "  component_id INTEGER REFERENCES components(id) ON DELETE CASCADE,"
                       "  key TEXT NOT NULL,"
                       "  version INTEGER NOT NULL,"
                       "  kind TEXT NOT NULL," /* env|file */
                       "  file_path TEXT,"     /* kind file: where it is mounted */
                       "  secret INTEGER NOT NULL,"
                       "  deleted INTEGER NOT NULL DEFAULT 0,"
                       "  size INTEGER NOT NULL," /* plaintext bytes */
                       "  key_version INTEGER REFERENCES vault_keys(version),"
                       "  nonce BLOB,"
                       "  ciphertext BLOB,"
                       "  set_at INTEGER NOT NULL"
                       ");"
                       "CREATE UNIQUE INDEX config_values_slot ON config_values("
                       "  environment_id, ifnull(component_id, 0), key, version);"
                       "CREATE INDEX config_values_by_key_version ON config_values(key_version);"
                       "CREATE TABLE release_values ("
                       "  release_id INTEGER NOT NULL REFERENCES releases(id) ON DELETE CASCADE,"
                       "  value_id INTEGER NOT NULL REFERENCES config_values(id),"
                       "  PRIMARY KEY (release_id, value_id)"
                       ");"
                       "CREATE INDEX release_values_by_value ON release_values(value_id);"
                       "ALTER TABLE releases ADD COLUMN origin TEXT NOT NULL DEFAULT 'deploy';"
                       "ALTER TABLE releases ADD COLUMN source_release_id INTEGER;"
                       "ALTER TABLE releases ADD COLUMN bake TEXT;", /* JSON: the bake's numbers */
        },
        {
                /* Issue 12: git sources, builds and webhooks.
                 * components gain their git source (JSON {"url","branch","dir","dockerfile","poll_sec"},
                 * NULL for an image component), autobuild/autodeploy (both off for a new component) and how
                 * many builds (with their logs) are kept.
                 * builds: one run of the pipeline for one commit; a succeeded, queued or running build is
                 * unique per (component, commit, settings_hash) so that asking again returns it; a failed or
                 * cancelled one may be tried again.  commit_sha is NULL only before it was resolved.
                 * build_steps: one row per step (fetch … deploy), each with its status, times and log file
                 * DIR/builds/<id>/<position>-<name>.log.
                 * component_secrets: per-component secrets sealed by the vault (the webhook secret, the git
                 * HTTP token, the ssh deploy key) with the component id and name as associated data.
                 * webhooks: the unguessable id of POST /hooks/git/<id>; webhook_deliveries: delivery ids
                 * seen, so a redelivered push is not built twice.
                 * source_host_keys: ssh host keys pinned on first use, per host:port. */
                .name = "sources, builds, webhooks",
                .sql = "ALTER TABLE components ADD COLUMN source TEXT;"
                       "ALTER TABLE components ADD COLUMN autobuild INTEGER NOT NULL DEFAULT 0;"
                       "ALTER TABLE components ADD COLUMN autodeploy INTEGER NOT NULL DEFAULT 0;"
                       "ALTER TABLE components ADD COLUMN builds_keep INTEGER NOT NULL DEFAULT 20;"
                       "CREATE TABLE builds ("
                       "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
                       "  component_id INTEGER NOT NULL REFERENCES components(id) ON DELETE CASCADE,"
                       "  commit_sha TEXT,"
                       "  branch TEXT,"
                       "  settings TEXT NOT NULL,"      /* JSON: url, dir, dockerfile the build used */
                       "  settings_hash TEXT NOT NULL," /* sha256 of settings */
                       "  status TEXT NOT NULL,"        /* queued|running|succeeded|failed|cancelled */
                       "  trigger TEXT NOT NULL,"       /* manual|webhook|poll */
                       "  requested_by TEXT,"
                       "  deploy INTEGER NOT NULL DEFAULT 0," /* deploy to the first env when built */
                       "  commit_subject TEXT,"
                       "  commit_author TEXT,"
                       "  commit_time INTEGER,"
                       "  image_digest TEXT,"
                       "  image_ref TEXT,"
                       "  release_id INTEGER," /* the deploy step's release */
                       "  reason TEXT,"
                       "  cancel_requested INTEGER NOT NULL DEFAULT 0,"
                       "  created_at INTEGER NOT NULL,"
                       "  started_at INTEGER,"
                       "  finished_at INTEGER"
                       ");"
                       "CREATE INDEX builds_by_component ON builds(component_id, id);"
                       "CREATE INDEX builds_by_status ON builds(status, id);"
                       "CREATE UNIQUE INDEX builds_once ON builds(component_id, commit_sha, settings_hash)"
                       "  WHERE status IN ('queued', 'running', 'succeeded') AND commit_sha IS NOT NULL;"
                       "CREATE TABLE build_steps ("
                       "  build_id INTEGER NOT NULL REFERENCES builds(id) ON DELETE CASCADE,"
                       "  position INTEGER NOT NULL,"
                       "  name TEXT NOT NULL,"
                       "  status TEXT NOT NULL," /* pending|running|succeeded|failed|skipped|cancelled */
                       "  message TEXT,"
                       "  started_at INTEGER," /* microseconds since the epoch */
                       "  finished_at INTEGER,"
                       "  PRIMARY KEY (build_id, position)"
                       ");"
                       "CREATE TABLE component_secrets ("
                       "  component_id INTEGER NOT NULL REFERENCES components(id) ON DELETE CASCADE,"
                       "  name TEXT NOT NULL,"
                       "  key_version INTEGER NOT NULL REFERENCES vault_keys(version),"
                       "  nonce BLOB NOT NULL,"
                       "  ciphertext BLOB NOT NULL,"
                       "  set_at INTEGER NOT NULL,"
                       "  PRIMARY KEY (component_id, name)"
                       ");"
                       "CREATE INDEX component_secrets_by_key_version ON component_secrets(key_version);"
                       "CREATE TABLE webhooks ("
                       "  component_id INTEGER PRIMARY KEY REFERENCES components(id) ON DELETE CASCADE,"
                       "  hook_id TEXT UNIQUE NOT NULL,"
                       "  created_at INTEGER NOT NULL"
                       ");"
                       "CREATE TABLE webhook_deliveries ("
                       "  component_id INTEGER NOT NULL REFERENCES components(id) ON DELETE CASCADE,"
                       "  delivery_id TEXT NOT NULL,"
                       "  received_at INTEGER NOT NULL,"
                       "  build_id INTEGER,"
                       "  PRIMARY KEY (component_id, delivery_id)"
                       ");"
                       "CREATE TABLE source_host_keys ("
                       "  host TEXT PRIMARY KEY NOT NULL," /* host:port */
                       "  key TEXT NOT NULL,"              /* "type base64" */
                       "  pinned_at INTEGER NOT NULL"
                       ");",
        },
        {
                /* Issue 13: the offline vulnerability database (vulndb import).  vulns: one OSV advisory each,
                 * its document as imported (what matching reads); vuln_packages: the (ecosystem without its
                 * release, package name) pairs it names, so a scan looks up only the advisories of the
                 * packages an image has; vulndb_imports: what was imported when. */
                .name = "vulnerability database",
                .sql = "CREATE TABLE vulns ("
                       "  id TEXT PRIMARY KEY NOT NULL,"
                       "  severity TEXT NOT NULL,"
                       "  summary TEXT,"
                       "  document TEXT NOT NULL"
                       ");"
                       "CREATE TABLE vuln_packages ("
                       "  vuln_id TEXT NOT NULL REFERENCES vulns(id) ON DELETE CASCADE,"
                       "  ecosystem TEXT NOT NULL," /* "Debian", "Alpine", "PyPI", "npm", "Go" */
                       "  name TEXT NOT NULL,"
                       "  PRIMARY KEY (ecosystem, name, vuln_id)"
                       ") WITHOUT ROWID;"
                       "CREATE INDEX vuln_packages_by_vuln ON vuln_packages(vuln_id);"
                       "CREATE TABLE vulndb_imports ("
                       "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
                       "  source TEXT NOT NULL,"
                       "  entries INTEGER NOT NULL,"
                       "  skipped INTEGER NOT NULL,"
                       "  imported_at INTEGER NOT NULL"
                       ");",
        },
        {
                /* Issue 13: the registry's push side (web/registry).  registry_uploads: open upload sessions
                 * (the bytes are in DIR/registry/uploads/<uuid>; the file's size is the offset).
                 * registry_blobs: blobs pushed or mounted into a repository (gc keeps them for a grace period
                 * so a manifest can follow).  registry_manifests: every pushed manifest (gc roots), with the
                 * subject the referrers API looks up.  registry_tags: tags of manifests the image catalog does
                 * not hold (indexes, artifacts); image tags are the catalog's. */
                .name = "registry push",
                .sql = "CREATE TABLE registry_uploads ("
                       "  uuid TEXT PRIMARY KEY NOT NULL,"
                       "  repo TEXT NOT NULL,"
                       "  started_at INTEGER NOT NULL,"
                       "  updated_at INTEGER NOT NULL"
                       ");"
                       "CREATE TABLE registry_blobs ("
                       "  repo TEXT NOT NULL,"
                       "  digest TEXT NOT NULL,"
                       "  pushed_at INTEGER NOT NULL,"
                       "  PRIMARY KEY (repo, digest)"
                       ") WITHOUT ROWID;"
                       "CREATE TABLE registry_manifests ("
                       "  repo TEXT NOT NULL,"
                       "  digest TEXT NOT NULL,"
                       "  media_type TEXT NOT NULL,"
                       "  artifact_type TEXT,"
                       "  subject TEXT,"
                       "  size INTEGER NOT NULL,"
                       "  pushed_at INTEGER NOT NULL,"
                       "  PRIMARY KEY (repo, digest)"
                       ") WITHOUT ROWID;"
                       "CREATE INDEX registry_manifests_by_subject ON registry_manifests(subject);"
                       "CREATE TABLE registry_tags ("
                       "  repo TEXT NOT NULL,"
                       "  tag TEXT NOT NULL,"
                       "  digest TEXT NOT NULL,"
                       "  PRIMARY KEY (repo, tag)"
                       ") WITHOUT ROWID;",
        },
        {
                /* Issue 13: users and their API tokens.  The first user, admin, is made here; its bootstrap
                 * token (STATE/admin.token) is not a row.  A token is kept as its BLAKE2b hash only
                 * (crypto_generichash), never in clear.  Issue 14 adds passwords and sessions to users
                 * with a migration of its own. */
                .name = "users and API tokens",
                .sql = "CREATE TABLE users ("
                       "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
                       "  name TEXT UNIQUE NOT NULL,"
                       "  role TEXT NOT NULL CHECK (role IN ('admin', 'developer', 'viewer')),"
                       "  created_at INTEGER NOT NULL"
                       ");"
                       "INSERT INTO users(name, role, created_at)"
                       "  VALUES ('admin', 'admin', CAST(strftime('%s', 'now') AS INTEGER));"
                       "CREATE TABLE api_tokens ("
                       "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
                       "  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
                       "  name TEXT NOT NULL,"
                       "  hash BLOB UNIQUE NOT NULL,"
                       "  read_only INTEGER NOT NULL DEFAULT 0,"
                       "  created_at INTEGER NOT NULL," /* seconds since the epoch */
                       "  expires_at INTEGER,"          /* NULL: never */
                       "  last_used_at INTEGER,"        /* NULL: never; kept to within a minute */
                       "  UNIQUE (user_id, name)"
                       ");",
        },
        {
                /* Issue 13: registries you own, which the pipeline's push step copies a project's images to.
                 * The password is sealed by the vault (key_version, nonce, ciphertext; all NULL: none) with
                 * the registry's name as associated data; ca_pem is the PEM its certificate is checked
                 * against (NULL: the system's).  projects.push_to names one (NULL: no push); a registry a
                 * project pushes to cannot be removed.  projects.scan_fail_on is the scan step's policy;
                 * builds.pushed_ref what the push step pushed (host[:port]/project/component:tag@digest). */
                .name = "registries, push_to, scan_fail_on, pushed_ref",
                .sql = "CREATE TABLE registries ("
                       "  id INTEGER PRIMARY KEY,"
                       "  name TEXT UNIQUE NOT NULL,"
                       "  url TEXT NOT NULL,"
                       "  username TEXT,"
                       "  ca_pem TEXT,"
                       "  insecure INTEGER NOT NULL DEFAULT 0,"
                       "  key_version INTEGER REFERENCES vault_keys(version),"
                       "  nonce BLOB,"
                       "  ciphertext BLOB,"
                       "  created_at INTEGER NOT NULL"
                       ");"
                       "CREATE INDEX registries_by_key_version ON registries(key_version);"
                       "ALTER TABLE projects ADD COLUMN push_to TEXT"
                       "  REFERENCES registries(name) ON UPDATE RESTRICT ON DELETE RESTRICT;"
                       "ALTER TABLE projects ADD COLUMN scan_fail_on TEXT NOT NULL DEFAULT 'critical'"
                       "  CHECK (scan_fail_on IN ('critical', 'high', 'none'));"
                       "ALTER TABLE builds ADD COLUMN pushed_ref TEXT;",
        },
        {
                /* Issue 14: console logins.  users.password_hash is a crypto_pwhash_str() string (argon2id);
                 * NULL: the user cannot log in (the first start's admin, until `user passwd admin`).  A
                 * session is kept as the BLAKE2b hash of its cookie only; its CSRF token is not a
                 * credential on its own (it is sent with the cookie, never instead of it).  A session ends
                 * at expires_at, or once unused for the daemon's idle timeout (last_seen_at, kept to within
                 * a minute); removing a user removes its sessions. */
                .name = "passwords and console sessions",
                .sql = "ALTER TABLE users ADD COLUMN password_hash TEXT;"
                       "CREATE TABLE sessions ("
                       "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
                       "  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
                       "  hash BLOB UNIQUE NOT NULL,"
                       "  csrf_token TEXT NOT NULL,"
                       "  created_at INTEGER NOT NULL,"   /* seconds since the epoch */
                       "  last_seen_at INTEGER NOT NULL," /* kept to within a minute */
                       "  expires_at INTEGER NOT NULL"    /* the absolute end */
                       ");"
                       "CREATE INDEX sessions_by_user ON sessions(user_id);",
        },
        {
                /* Issue 14: a protected environment takes a promotion by a developer only as a request an
                 * admin approves.  A request records what it would run (the image digest and the release it
                 * came from at request time) and who asked; deciding it records who, when, why, and the
                 * release it made.  At most one pending request per (component, from, to, digest).  Names
                 * of people are kept as text, so the history outlives a removed user; release ids are not
                 * references, since old releases are pruned. */
                .name = "protected environments, promotion approvals",
                .sql = "ALTER TABLE environments ADD COLUMN protected INTEGER NOT NULL DEFAULT 0;"
                       "CREATE TABLE approvals ("
                       "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
                       "  project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,"
                       "  component_id INTEGER NOT NULL REFERENCES components(id) ON DELETE CASCADE,"
                       "  from_environment_id INTEGER NOT NULL REFERENCES environments(id) ON DELETE CASCADE,"
                       "  to_environment_id INTEGER NOT NULL REFERENCES environments(id) ON DELETE CASCADE,"
                       "  image_digest TEXT NOT NULL,"
                       "  source_release_id INTEGER NOT NULL,"
                       "  requested_by TEXT NOT NULL,"
                       "  requested_at INTEGER NOT NULL,"
                       "  status TEXT NOT NULL DEFAULT 'pending'"
                       "    CHECK (status IN ('pending', 'approved', 'rejected', 'failed')),"
                       "  decided_by TEXT,"
                       "  decided_at INTEGER,"
                       "  reason TEXT,"
                       "  release_id INTEGER"
                       ");"
                       "CREATE UNIQUE INDEX approvals_one_pending"
                       "  ON approvals(component_id, from_environment_id, to_environment_id, image_digest)"
                       "  WHERE status = 'pending';"
                       "CREATE INDEX approvals_by_status ON approvals(status, id);",
        },
        {
                /* Issue 15: build secrets, what a pipeline build mounts with RUN --mount=type=secret,id=KEY.
                 * Per component, not per environment: a commit is built once.  Like config_values, one row
                 * per write (version 1, 2, … per (component, key); an unset is a tombstone with deleted = 1
                 * and no ciphertext), sealed by the vault with ("build", project, component, key, version)
                 * as associated data so a row's bytes copied to another slot or version do not open. */
                .name = "build secrets",
                .sql = "CREATE TABLE build_secrets ("
                       "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
                       "  project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,"
                       "  component_id INTEGER NOT NULL REFERENCES components(id) ON DELETE CASCADE,"
                       "  key TEXT NOT NULL,"
                       "  version INTEGER NOT NULL,"
                       "  deleted INTEGER NOT NULL DEFAULT 0,"
                       "  size INTEGER NOT NULL," /* plaintext bytes */
                       "  key_version INTEGER REFERENCES vault_keys(version),"
                       "  nonce BLOB,"
                       "  ciphertext BLOB,"
                       "  set_at INTEGER NOT NULL,"
                       "  UNIQUE (component_id, key, version)"
                       ");"
                       "CREATE INDEX build_secrets_by_key_version ON build_secrets(key_version);",
        },
};

const size_t state_migrations_n = ELEMENTSOF(state_migrations);
