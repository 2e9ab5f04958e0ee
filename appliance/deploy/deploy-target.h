/* What one release needs to run: its rows (project, component, environment, service address) and the
 * parts of its spec snapshot the deployer acts on (endpoints, health checks, deploy timeout), plus the
 * InstancePlan for one of its instances.  Shared by the deployer workers and the supervisor. */
#pragma once

#include <jansson.h>
#include <netinet/in.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "hosts-file.h"
#include "image-catalog.h"
#include "instance-setup.h"
#include "probe.h"
#include "scrub.h"
#include "subnet-pool.h"
#include "vault.h"

#define DEPLOY_ENDPOINTS_MAX 32U
#define DEPLOY_HOSTS_MAX 512U

typedef struct DeployHealth {
        bool enabled; /* false: none (readiness = still running after a grace period) */
        ProbeType type;
        char path[PROBE_PATH_MAX];
        uint16_t port;
        unsigned interval_ms, timeout_ms, initial_delay_ms;
        unsigned success_threshold, failure_threshold;
        unsigned grace_ms; /* !enabled: ready when still running after this long (0: at once) */
} DeployHealth;

typedef struct DeployTarget {
        int64_t release_id, component_id, environment_id;
        char *project, *component, *environment, *bridge, *digest;
        char *domain; /* the environment's, NULL: none (then no host-based ingress route) */
        NetSubnet subnet;
        unsigned ingress_port;
        struct in_addr service;
        json_t *spec;         /* the release's spec snapshot */
        json_t *image_config; /* the image config's "config" object (may be NULL until loaded) */
        uint16_t ports[DEPLOY_ENDPOINTS_MAX];
        size_t n_ports;
        int public_index;                     /* index into ports of the first public endpoint, -1: none */
        bool is_public[DEPLOY_ENDPOINTS_MAX]; /* per port: served on the ingress listener */
        char endpoint_names[DEPLOY_ENDPOINTS_MAX][64];
        DeployHealth readiness, liveness;
        unsigned deploy_timeout_sec;
        uint64_t memory_max;   /* bytes, 0: none */
        uint64_t cpu_quota_us; /* per 100 ms, 0: none */
        uint64_t pids_max;     /* 0: none */
        /* The bake window after the swap (deployer-bake.c): SPEC_BAKE_DAEMON_DEFAULT means slipwayd's
         * --bake-default, 0 none; rolled back above max_5xx_percent 5xx answers of at least min_requests. */
        uint32_t bake_ms;
        unsigned bake_max_5xx_percent, bake_min_requests;
        /* The release's pinned values, decrypted (deploy_target_load_values(); none until then), as the
         * instance plan takes them, and its secrets for scrubbing what the deploy log and reasons say. */
        VaultValue *values;
        size_t n_values;
        InstanceValue *instance_values;
        Scrubber *scrub;
} DeployTarget;

void deploy_target_done(DeployTarget *t);
/* Loads rows and spec; allocates the component's service address in the environment when it has none. */
int deploy_target_load(sqlite3 *db, int64_t release_id, DeployTarget *ret, char **ret_error);
/* Reads the image config from the store and derives ports when the spec names none. */
int deploy_target_load_image(DeployTarget *t, OciStore *store, char **ret_error);
/* Decrypts the values the release pinned (vault_release_values) for its instances; until
 * deploy_target_done() every deploy log line of the release is scrubbed of its secrets
 * (model_deploy_log_scrub_push).  NULL vault: the release runs without values.  A value that does not
 * open: -EBADMSG with the vault's sentence in *ret_error (replaced). */
int deploy_target_load_values(DeployTarget *t, Vault *vault, sqlite3 *db, char **ret_error);
/* Scrubs the release's known secrets out of the malloc'ed string *text (a failure reason). */
void deploy_target_scrub(const DeployTarget *t, char **text);

/* Everything an InstancePlan points to, owned. */
typedef struct DeployPlan {
        InstancePlan plan;
        char *dir, *netns, *host_ifname, *machine, *hostname;
        char **lowers;
        size_t n_lowers;
        NetHostsEntry hosts[DEPLOY_HOSTS_MAX];
        char *host_names[DEPLOY_HOSTS_MAX];
        size_t n_hosts;
} DeployPlan;

void deploy_plan_done(DeployPlan *p);
/* Names of an instance's netns, veth host end and machine.  A new instance's netns name is a hash of its
 * state dir's random id, the state dir's path and the instance id (deploy_instance_netns_new()): ids never
 * repeat within a state dir (AUTOINCREMENT), and the random id tells apart a state dir made again at the
 * same path.  The veth and machine names are made from the netns name its row records (netns), so they
 * stay what they were across restarts and upgrades; a row without a well-formed one (from before names
 * were recorded, or cut off before) gets the names (state dir, id) gave before. */
int deploy_instance_netns_new(const char *state_dir, const char *state_id, int64_t instance_id,
                              char **ret_netns);
int deploy_instance_names(const char *state_dir, int64_t instance_id, const char *netns, char **ret_netns,
                          char **ret_ifname, char **ret_machine);
int deploy_plan_build(sqlite3 *db, const DeployTarget *t, const char *state_dir, const char *layers_dir,
                      const char *shim_dir, OciStore *store, int64_t instance_id, struct in_addr address,
                      DeployPlan *ret);
