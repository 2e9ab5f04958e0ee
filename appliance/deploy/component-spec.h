/* A component's spec: endpoints, health checks and resources, stored as JSON in components.spec and
 * snapshotted into releases.spec.  Parsing fills every default (ARCHITECTURE "Health checks"), so a
 * serialised spec is explicit and a release keeps the exact checks it was deployed with. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

#define SPEC_ENDPOINTS_MAX 16u
#define SPEC_BASE_PATH_MAX 256u
#define SPEC_HEALTH_PATH_MAX 1024u
#define SPEC_HEALTH_INTERVAL_MS_DEFAULT 2000u
#define SPEC_HEALTH_TIMEOUT_MS_DEFAULT 1000u
#define SPEC_HEALTH_INITIAL_DELAY_MS_DEFAULT 0u
#define SPEC_HEALTH_SUCCESS_THRESHOLD_DEFAULT 1u
#define SPEC_HEALTH_FAILURE_THRESHOLD_DEFAULT 3u
/* With no check and no endpoint: healthy when the process still runs after this long. */
#define SPEC_PROCESS_GRACE_MS_DEFAULT 3000u
#define SPEC_DEPLOY_TIMEOUT_MS_DEFAULT 120000u
#define SPEC_TIME_MS_MAX (3600u * 1000u)
#define SPEC_THRESHOLD_MAX 100u
#define SPEC_PIDS_DEFAULT 1024u
#define SPEC_PIDS_MAX 1000000u
#define SPEC_CPUS_MILLI_MAX 1024000u
#define SPEC_MEMORY_MAX (UINT64_C(1) << 50) /* bytes; far above any host, below overflow */
#define SPEC_MEMORY_MIN (UINT64_C(4) << 20)
/* Configurables (component-config.c checks names and paths). */
#define SPEC_CONFIGS_MAX 64u
#define SPEC_CONFIG_NAME_MAX 128u /* bytes with the NUL */
#define SPEC_CONFIG_PATH_MAX 256u /* bytes with the NUL */
/* Bake window: bake_ms SPEC_BAKE_DAEMON_DEFAULT means "slipwayd --bake-default" (30 s unless set). */
#define SPEC_BAKE_DAEMON_DEFAULT UINT32_MAX
#define SPEC_BAKE_MS_MAX (24u * 3600u * 1000u)
#define SPEC_BAKE_MAX_5XX_PERCENT_DEFAULT 5u
#define SPEC_BAKE_MIN_REQUESTS 20u
/* Releases kept per (component, environment), with their images and value versions. */
#define SPEC_KEEP_RELEASES_DEFAULT 10u
#define SPEC_KEEP_RELEASES_MAX 1000u

typedef enum EndpointVisibility {
        ENDPOINT_PUBLIC,  /* on the environment's ingress listener, /<project>/<component>/ */
        ENDPOINT_PROJECT, /* only on the service address inside the environment */
} EndpointVisibility;

typedef struct SpecEndpoint {
        char name[64];
        uint16_t port;
        EndpointVisibility visibility;
        char base_path[SPEC_BASE_PATH_MAX]; /* starts with '/', default "/" */
} SpecEndpoint;

typedef enum HealthKind {
        HEALTH_HTTP,    /* GET path on port, 200–399 healthy */
        HEALTH_TCP,     /* connect to port */
        HEALTH_PROCESS, /* the process still runs after initial_delay_ms (the grace period) */
        HEALTH_NONE,    /* always healthy */
} HealthKind;

typedef struct HealthCheck {
        HealthKind kind;
        char path[SPEC_HEALTH_PATH_MAX]; /* HEALTH_HTTP only */
        uint16_t port;                   /* HEALTH_HTTP/TCP: the first endpoint's port unless given */
        uint32_t interval_ms;
        uint32_t timeout_ms;
        uint32_t initial_delay_ms;
        uint32_t success_threshold;
        uint32_t failure_threshold;
} HealthCheck;

/* A value the component needs in each environment it is deployed to: an environment variable NAME, or
 * (file non-empty) a file mounted at that absolute path whose content is the value called NAME. */
typedef struct SpecConfig {
        char name[SPEC_CONFIG_NAME_MAX];
        bool secret;
        bool optional;
        char file[SPEC_CONFIG_PATH_MAX]; /* "" = environment variable */
} SpecConfig;

typedef struct ComponentSpec {
        SpecEndpoint endpoints[SPEC_ENDPOINTS_MAX];
        size_t n_endpoints;
        HealthCheck readiness;
        HealthCheck liveness;
        uint32_t deploy_timeout_ms;
        uint64_t memory_bytes; /* 0 = unlimited */
        uint32_t cpus_milli;   /* 0 = unlimited; 1500 = 1.5 CPUs */
        uint32_t pids;
        SpecConfig configs[SPEC_CONFIGS_MAX]; /* names unique */
        size_t n_configs;
        uint32_t bake_ms;              /* SPEC_BAKE_DAEMON_DEFAULT: the daemon's default; 0: no bake */
        uint32_t bake_max_5xx_percent; /* 0..100 */
        uint32_t keep_releases;        /* 1..SPEC_KEEP_RELEASES_MAX */
} ComponentSpec;

const char *endpoint_visibility_to_string(EndpointVisibility v);
const char *health_kind_to_string(HealthKind k);

/* Parses and validates a spec JSON object, filling defaults.  -EINVAL with a one-sentence
 * *ret_error (caller frees) on bad input. */
int component_spec_from_json(json_t *j, ComponentSpec *ret, char **ret_error);
int component_spec_parse(const char *json, ComponentSpec *ret, char **ret_error);
/* The explicit form (every default written out). */
json_t *component_spec_to_json(const ComponentSpec *spec);
char *component_spec_format(const ComponentSpec *spec); /* compact JSON string, caller frees */

/* "NAME:PORT[:public|project][:/BASEPATH]" (also "PORT" alone, name "port-PORT"). */
int spec_endpoint_parse(const char *s, SpecEndpoint *ret, char **ret_error);
/* "http:PATH" | "tcp" | "none" for both readiness and liveness (default timings). */
int spec_health_parse(const char *s, ComponentSpec *spec, char **ret_error);
/* The same for the liveness check alone (after spec_health_parse, when both are given). */
int spec_liveness_parse(const char *s, ComponentSpec *spec, char **ret_error);

#define SPEC_HEALTH_MS_MIN 100u

/* Timings a person may give both checks at once; 0 keeps a value. */
typedef struct SpecHealthTuning {
        uint32_t interval_ms;
        uint32_t timeout_ms;
        uint32_t failure_threshold;
        uint32_t deploy_timeout_ms;
} SpecHealthTuning;

int spec_health_tune(ComponentSpec *spec, const SpecHealthTuning *t, char **ret_error);
/* "512M", "1G", "1048576" … → bytes. */
int spec_memory_parse(const char *s, uint64_t *ret);
/* "1", "0.5", "2.25" → milli-CPUs. */
int spec_cpus_parse(const char *s, uint32_t *ret);

/* "NAME[:secret][:optional][:file=PATH]" (component create|update --config). */
int spec_config_parse(const char *s, SpecConfig *ret, char **ret_error);
/* Adds or replaces (same name) a configurable; -EINVAL with *ret_error when the spec has SPEC_CONFIGS_MAX or
 * another configurable uses the same file path. */
int spec_config_put(ComponentSpec *spec, const SpecConfig *c, char **ret_error);
/* The configurable called name, or NULL. */
const SpecConfig *component_spec_config(const ComponentSpec *spec, const char *name);

/* The first public endpoint, or NULL. */
const SpecEndpoint *component_spec_public_endpoint(const ComponentSpec *spec);

/* The ingress path prefix (no trailing '/') of endpoint i when it is public: "/<project>/<component>" for
 * the first public endpoint, "/<project>/<component>/_/<endpoint>" for further ones ('_' is no name, so
 * this never shadows another component).  -ENOENT when endpoint i is not public. */
int component_ingress_path(const char *project, const char *component, const ComponentSpec *spec, size_t i,
                           char **ret);
