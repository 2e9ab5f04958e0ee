/* Release targets: the rows and spec of a release read into one struct, and an instance plan built from
 * them.  Invariant: nothing here writes outside the service_addresses table (and only to add a missing
 * address), so loading a target twice is harmless. */
#include "deploy-target.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "component-spec.h"
#include "deployer.h"
#include "digest.h"
#include "fs-util.h"
#include "ifname.h"
#include "json-util.h"
#include "log.h"
#include "macro.h"
#include "model.h"
#include "oci-store.h"
#include "string-util.h"

#define IMAGE_CONFIG_MAX (4U * 1024U * 1024U)

static int set_error(char **ret_error, const char *fmt, ...) _printf_(2, 3);
static int set_error(char **ret_error, const char *fmt, ...) {
        va_list ap;
        char *m = NULL;

        if (!ret_error || *ret_error)
                return 0;
        va_start(ap, fmt);
        if (vasprintf(&m, fmt, ap) >= 0)
                *ret_error = m;
        va_end(ap);
        return 0;
}

void deploy_target_done(DeployTarget *t) {
        free(t->project);
        free(t->component);
        free(t->environment);
        free(t->bridge);
        free(t->domain);
        free(t->digest);
        json_decref(t->spec);
        json_decref(t->image_config);
        if (t->scrub)
                model_deploy_log_scrub_pop(t->release_id, t->scrub);
        vault_values_free(t->values, t->n_values);
        free(t->instance_values);
        scrubber_free(t->scrub);
        *t = (DeployTarget) {};
}

static char *dup_or_empty(const char *s) {
        return strdup(s ?: "");
}

/* The model allocates it with the component; a row missing (older data) is added here. */
static int service_address(sqlite3 *db, DeployTarget *t) {
        _cleanup_free_ char *text = NULL;
        int r;

        r = model_service_address_ensure(db, t->component_id, t->environment_id, &text);
        if (r < 0)
                return r;
        return net_address_parse(text, &t->service);
}

static void health_from_spec(const HealthCheck *c, DeployHealth *ret) {
        *ret = (DeployHealth) {
                .enabled = c->kind == HEALTH_HTTP || c->kind == HEALTH_TCP,
                .type = c->kind == HEALTH_HTTP ? PROBE_HTTP : PROBE_TCP,
                .port = c->port,
                .interval_ms = c->interval_ms ?: DEPLOY_PROBE_INTERVAL_DEFAULT_MS,
                .timeout_ms = c->timeout_ms && c->timeout_ms <= PROBE_TIMEOUT_MAX_MS
                                      ? c->timeout_ms
                                      : DEPLOY_PROBE_TIMEOUT_DEFAULT_MS,
                .initial_delay_ms = c->initial_delay_ms,
                .success_threshold = c->success_threshold ?: 1,
                .failure_threshold = c->failure_threshold ?: 1,
                .grace_ms =
                        c->kind == HEALTH_PROCESS ? (c->initial_delay_ms ?: DEPLOY_NO_PROBE_GRACE_MS) : 0,
        };
        if (c->kind == HEALTH_PROCESS)
                ret->initial_delay_ms = 0;
        if (c->kind == HEALTH_HTTP)
                snprintf(ret->path, sizeof ret->path, "%s", c->path[0] ? c->path : "/");
}

/* The release's spec snapshot (component-spec.h), every default filled. */
static int parse_spec(DeployTarget *t, char **ret_error) {
        _cleanup_free_ ComponentSpec *spec = calloc(1, sizeof *spec);
        const SpecEndpoint *pub;
        int r;

        if (!spec)
                return -ENOMEM;
        r = component_spec_from_json(t->spec, spec, ret_error);
        if (r < 0)
                return r;
        pub = component_spec_public_endpoint(spec);
        t->public_index = -1;
        for (size_t i = 0; i < spec->n_endpoints && t->n_ports < DEPLOY_ENDPOINTS_MAX; i++) {
                if (&spec->endpoints[i] == pub)
                        t->public_index = (int) t->n_ports;
                t->is_public[t->n_ports] = spec->endpoints[i].visibility == ENDPOINT_PUBLIC;
                snprintf(t->endpoint_names[t->n_ports], sizeof t->endpoint_names[0], "%s",
                         spec->endpoints[i].name);
                t->ports[t->n_ports++] = spec->endpoints[i].port;
        }
        health_from_spec(&spec->readiness, &t->readiness);
        health_from_spec(&spec->liveness, &t->liveness);
        t->deploy_timeout_sec = spec->deploy_timeout_ms ? (spec->deploy_timeout_ms + 999) / 1000
                                                        : DEPLOY_TIMEOUT_DEFAULT_SEC;
        if (t->deploy_timeout_sec > DEPLOY_TIMEOUT_MAX_SEC)
                t->deploy_timeout_sec = DEPLOY_TIMEOUT_MAX_SEC;
        t->memory_max = spec->memory_bytes;
        t->cpu_quota_us = (uint64_t) spec->cpus_milli * 100U; /* 1000 milli-CPUs = 100 ms per 100 ms */
        t->pids_max = spec->pids;
        t->bake_ms = spec->bake_ms;
        t->bake_max_5xx_percent = spec->bake_max_5xx_percent;
        t->bake_min_requests = SPEC_BAKE_MIN_REQUESTS;
        return 0;
}

int deploy_target_load(sqlite3 *db, int64_t release_id, DeployTarget *ret, char **ret_error) {
        _cleanup_(model_release_done) ModelRelease rel = {};
        _cleanup_(model_component_done) ModelComponent c = {};
        _cleanup_(model_environment_done) ModelEnvironment e = {};
        DeployTarget t = { .release_id = release_id };
        const char *spec;
        int r;

        r = model_release_get(db, release_id, &rel);
        if (r >= 0)
                r = model_component_get_by_id(db, rel.component_id, &c);
        if (r >= 0)
                r = model_environment_get_by_id(db, rel.environment_id, &e);
        if (r == -ENOENT) {
                set_error(ret_error, "Release %lld, its component or its environment no longer exists.",
                          (long long) release_id);
                return -ENOENT;
        }
        if (r < 0)
                return r;
        t.component_id = rel.component_id;
        t.environment_id = rel.environment_id;
        t.digest = dup_or_empty(rel.image_digest);
        spec = rel.spec;
        t.component = dup_or_empty(c.name);
        t.project = dup_or_empty(c.project_name);
        t.environment = dup_or_empty(e.name);
        t.bridge = dup_or_empty(e.bridge);
        t.ingress_port = e.ingress_port;
        if (e.domain && !(t.domain = strdup(e.domain))) {
                deploy_target_done(&t);
                return -ENOMEM;
        }
        if (!t.digest || !t.component || !t.project || !t.environment || !t.bridge) {
                deploy_target_done(&t);
                return -ENOMEM;
        }
        if (net_subnet_parse(e.subnet ?: "", &t.subnet) < 0) {
                set_error(ret_error, "The environment %s has no valid subnet.", t.environment);
                deploy_target_done(&t);
                return -EBADMSG;
        }
        t.spec = NULL;
        if (spec && json_parse_buffer(spec, strlen(spec), &t.spec, NULL) < 0)
                t.spec = NULL;
        if (!t.spec)
                t.spec = json_object();
        r = parse_spec(&t, ret_error);
        if (r < 0) {
                set_error(ret_error, "The release's spec is invalid: %s.", strerror(-r));
                deploy_target_done(&t);
                return r;
        }

        r = service_address(db, &t);
        if (r < 0) {
                set_error(ret_error, "Cannot find or allocate the service address of %s in %s: %s.",
                          t.component, t.environment, strerror(-r));
                deploy_target_done(&t);
                return r;
        }
        *ret = t;
        return 0;
}

int deploy_target_load_image(DeployTarget *t, OciStore *store, char **ret_error) {
        _cleanup_json_ json_t *inspect = NULL;
        OciError err = {};
        json_t *c, *exposed;
        const char *key;
        json_t *v;
        int r;

        r = oci_store_image_inspect(store, t->digest, &inspect, &err);
        if (r < 0) {
                set_error(ret_error, "Cannot read the image %s: %s", t->digest,
                          err.message[0] ? err.message : strerror(-r));
                return r;
        }
        c = json_object_get(json_object_get(inspect, "config"), "config");
        json_decref(t->image_config);
        t->image_config = c ? json_incref(c) : json_object();
        if (t->n_ports > 0)
                return 0;
        exposed = json_object_get(t->image_config, "ExposedPorts");
        json_object_foreach(exposed, key, v) {
                unsigned port;
                char proto[8] = "";
                if (sscanf(key, "%u/%7s", &port, proto) >= 1 && port > 0 && port <= 65535 &&
                    (!proto[0] || streq(proto, "tcp")) && t->n_ports < DEPLOY_ENDPOINTS_MAX)
                        t->ports[t->n_ports++] = (uint16_t) port;
        }
        if (t->n_ports > 0 && t->public_index < 0) {
                t->public_index = 0; /* from the image alone: its first exposed port is the public one */
                t->is_public[0] = true;
        }
        return 0;
}

int deploy_target_load_values(DeployTarget *t, Vault *vault, sqlite3 *db, char **ret_error) {
        _cleanup_(scrubber_freep) Scrubber *scrub = NULL;
        _cleanup_free_ char *err = NULL;
        _cleanup_free_ InstanceValue *iv = NULL;
        VaultValue *v = NULL;
        size_t n = 0;
        int r;

        if (!vault)
                return 0;
        r = vault_release_values(vault, db, t->release_id, &v, &n, &err);
        if (r < 0) {
                if (!err && asprintf(&err, "Cannot open the values of release %lld: %s.",
                                     (long long) t->release_id, strerror(-r)) < 0)
                        err = NULL;
                if (ret_error) {
                        free(*ret_error);
                        *ret_error = TAKE_PTR(err);
                }
                return r;
        }
        if (n > INSTANCE_VALUES_MAX) {
                vault_values_free(v, n);
                if (ret_error) {
                        free(*ret_error);
                        if (asprintf(ret_error,
                                     "The release has %zu values, more than the %u an instance takes.", n,
                                     INSTANCE_VALUES_MAX) < 0)
                                *ret_error = NULL;
                }
                return -E2BIG;
        }
        r = scrubber_new(&scrub);
        if (r >= 0 && n > 0 && !(iv = calloc(n, sizeof *iv)))
                r = -ENOMEM;
        for (size_t i = 0; r >= 0 && i < n; i++) {
                iv[i] = (InstanceValue) {
                        .key = v[i].key,
                        .is_file = v[i].is_file,
                        .file_path = v[i].file_path,
                        .secret = v[i].secret,
                        .data = v[i].data,
                        .size = v[i].size,
                };
                if (!v[i].secret)
                        continue;
                r = scrubber_add(scrub, v[i].key, v[i].data, v[i].size);
                /* A secret shorter than SCRUB_SECRET_MIN is not scrubbed (scrub.h says why): said once per
                 * deploy or restart, so a person knows. */
                if (r >= 0 && v[i].size < SCRUB_SECRET_MIN)
                        (void) model_deploy_log_appendf(db, t->release_id,
                                                        "the secret %s is shorter than %u bytes: it is not "
                                                        "scrubbed from logs; a longer value is safer",
                                                        v[i].key, SCRUB_SECRET_MIN);
        }
        if (r < 0) {
                vault_values_free(v, n);
                return r;
        }
        /* From here on every deploy log line of the release is scrubbed, until deploy_target_done(). */
        r = model_deploy_log_scrub_push(t->release_id, scrub);
        if (r < 0) {
                vault_values_free(v, n);
                return r;
        }
        if (t->scrub)
                model_deploy_log_scrub_pop(t->release_id, t->scrub);
        vault_values_free(t->values, t->n_values);
        free(t->instance_values);
        scrubber_free(t->scrub);
        t->values = v;
        t->n_values = n;
        t->instance_values = TAKE_PTR(iv);
        t->scrub = TAKE_PTR(scrub);
        return 0;
}

void deploy_target_scrub(const DeployTarget *t, char **text) {
        /* Out of memory: nothing of it may be kept unscrubbed. */
        if (scrubber_string(t->scrub, text) < 0) {
                free(*text);
                *text = strdup("(a message that could not be scrubbed of secrets was dropped)");
        }
}

void deploy_plan_done(DeployPlan *p) {
        free(p->dir);
        free(p->netns);
        free(p->host_ifname);
        free(p->machine);
        free(p->hostname);
        for (size_t i = 0; i < p->n_lowers; i++)
                free(p->lowers[i]);
        free(p->lowers);
        for (size_t i = 0; i < p->n_hosts; i++)
                free(p->host_names[i]);
        *p = (DeployPlan) {};
}

#define INSTANCE_NETNS_PREFIX "slipway-"
#define INSTANCE_IFNAME_PREFIX "swv"

/* The hash part of a recorded netns name "slipway-<hex>"; NULL when it is not one of ours. */
static const char *netns_hash(const char *netns) {
        const char *h;
        size_t n;

        if (!netns || !startswith(netns, INSTANCE_NETNS_PREFIX))
                return NULL;
        h = netns + strlen(INSTANCE_NETNS_PREFIX);
        n = strlen(h);

        if (n < NET_IFNAME_HASH_DIGITS_MIN || n > NET_IFNAME_MAX - strlen(INSTANCE_IFNAME_PREFIX))
                return NULL;
        for (size_t i = 0; i < n; i++)
                if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f')))
                        return NULL;
        return h;
}

int deploy_instance_netns_new(const char *state_dir, const char *state_id, int64_t instance_id,
                              char **ret_netns) {
        _cleanup_free_ char *key = NULL;
        char ifname[IFNAMSIZ];
        int r;

        if (isempty(state_id))
                return deploy_instance_names(state_dir, instance_id, NULL, ret_netns, NULL, NULL);
        if (asprintf(&key, "%s:%s/instances/%lld", state_id, state_dir, (long long) instance_id) < 0)
                return -ENOMEM;
        r = net_ifname_from_key(INSTANCE_IFNAME_PREFIX, key, ifname);
        if (r < 0)
                return r;
        if (asprintf(ret_netns, INSTANCE_NETNS_PREFIX "%s", ifname + strlen(INSTANCE_IFNAME_PREFIX)) < 0)
                return -ENOMEM;
        return 0;
}

int deploy_instance_names(const char *state_dir, int64_t instance_id, const char *netns, char **ret_netns,
                          char **ret_ifname, char **ret_machine) {
        _cleanup_free_ char *key = NULL;
        const char *recorded = netns_hash(netns);
        char ifname[IFNAMSIZ];
        int r;

        if (recorded)
                snprintf(ifname, sizeof ifname, INSTANCE_IFNAME_PREFIX "%s", recorded);
        else {
                if (asprintf(&key, "%s/instances/%lld", state_dir, (long long) instance_id) < 0)
                        return -ENOMEM;
                r = net_ifname_from_key(INSTANCE_IFNAME_PREFIX, key, ifname);
                if (r < 0)
                        return r;
        }
        if (ret_netns && asprintf(ret_netns, "slipway-%s", ifname + 3) < 0)
                return -ENOMEM;
        if (ret_machine && asprintf(ret_machine, "slipway-%s-%lld", ifname + 3, (long long) instance_id) < 0)
                return -ENOMEM;
        if (ret_ifname && !(*ret_ifname = strdup(ifname)))
                return -ENOMEM;
        return 0;
}

static int load_hosts(sqlite3 *db, const DeployTarget *t, DeployPlan *p) {
        ModelServiceAddress *v = NULL;
        size_t n = 0;
        int r;

        r = model_service_address_list(db, t->environment_id, &v, &n);
        if (r < 0)
                return r;
        for (size_t k = 0; k < n && p->n_hosts < DEPLOY_HOSTS_MAX; k++) {
                struct in_addr a;
                if (net_address_parse(v[k].address ?: "", &a) < 0)
                        continue;
                p->host_names[p->n_hosts] = dup_or_empty(v[k].component_name);
                if (!p->host_names[p->n_hosts]) {
                        model_service_addresses_free(v, n);
                        return -ENOMEM;
                }
                p->hosts[p->n_hosts] = (NetHostsEntry) { .name = p->host_names[p->n_hosts], .address = a };
                p->n_hosts++;
        }
        model_service_addresses_free(v, n);
        return 0;
}

int deploy_plan_build(sqlite3 *db, const DeployTarget *t, const char *state_dir, const char *layers_dir,
                      const char *shim_dir, OciStore *store, int64_t instance_id, struct in_addr address,
                      DeployPlan *ret) {
        char **layers = NULL, **diffs = NULL, **types = NULL;
        DeployPlan p = {};
        size_t n = 0;
        int r;

        {
                /* The names its row records (deployer_instance_row_create() made them). */
                _cleanup_(model_instance_done) ModelInstance row = {};
                r = model_instance_get(db, instance_id, &row);
                if (r < 0 && r != -ENOENT)
                        goto fail;
                r = deploy_instance_names(state_dir, instance_id, row.netns, &p.netns, &p.host_ifname,
                                          &p.machine);
                if (r < 0)
                        goto fail;
        }
        if (asprintf(&p.dir, "%s/instances/%lld", state_dir, (long long) instance_id) < 0 ||
            !(p.hostname = strdup(t->component))) {
                r = -ENOMEM;
                goto fail;
        }
        r = oci_store_image_layers(store, t->digest, &layers, &diffs, &types, &n);
        if (r < 0)
                goto fail;
        p.lowers = calloc(n + 1, sizeof(char *));
        if (!p.lowers) {
                r = -ENOMEM;
                goto fail;
        }
        for (size_t i = 0; i < n; i++) {
                p.lowers[i] = path_join(layers_dir, digest_hex(diffs[i]));
                if (!p.lowers[i]) {
                        r = -ENOMEM;
                        goto fail;
                }
                p.n_lowers++;
        }
        r = load_hosts(db, t, &p);
        if (r < 0)
                goto fail;

        p.plan = (InstancePlan) {
                .dir = p.dir,
                .shim_dir = shim_dir,
                .lowers = p.lowers,
                .n_lowers = p.n_lowers,
                .image_config = t->image_config,
                .hostname = p.hostname,
                .hosts = p.hosts,
                .n_hosts = p.n_hosts,
                .netns = p.netns,
                .host_ifname = p.host_ifname,
                .bridge = t->bridge,
                .address = address,
                .prefixlen = t->subnet.prefixlen,
                .gateway = net_subnet_host_address(&t->subnet),
                .machine = p.machine,
                .memory_max = t->memory_max,
                .cpu_quota_us = t->cpu_quota_us,
                .pids_max = t->pids_max,
                .values = t->instance_values,
                .n_values = t->n_values,
        };
        for (size_t i = 0; i < n; i++) {
                free(layers[i]);
                free(diffs[i]);
                free(types[i]);
        }
        free(layers);
        free(diffs);
        free(types);
        *ret = p;
        ret->plan.hosts = ret->hosts; /* it pointed into the local copy */
        return 0;
fail:
        for (size_t i = 0; i < n; i++) {
                free(layers ? layers[i] : NULL);
                free(diffs ? diffs[i] : NULL);
                free(types ? types[i] : NULL);
        }
        free(layers);
        free(diffs);
        free(types);
        deploy_plan_done(&p);
        return r;
}
