/* Component descriptors: .choreo/component.yaml in Choreo's shape (schemaVersion 1.0–1.2), or the older
 * .choreo/component-config.yaml and .choreo/endpoints.yaml, read into one Descriptor and mapped onto a
 * ComponentSpec.  The file comes from a user's repository: every limit is a named constant, and every
 * refusal names the file, line and column. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "component-spec.h"
#include "macro.h"

#define DESCRIPTOR_FILE_MAX (64u * 1024u) /* bytes */
#define DESCRIPTOR_ENDPOINTS_MAX SPEC_ENDPOINTS_MAX
#define DESCRIPTOR_CONFIGS_MAX SPEC_CONFIGS_MAX /* env and file together */
#define DESCRIPTOR_TEXT_MAX 256u                /* displayName and other free text, bytes with the NUL */
#define DESCRIPTOR_PATH_MAX 1024u               /* file names in messages, schemaFilePath, bytes with NUL */
#define DESCRIPTOR_ENDPOINT_NAME_MAX 64u        /* = sizeof SpecEndpoint.name */
#define DESCRIPTOR_MESSAGE_MAX 512u
/* The top-level key of component.yaml that holds Slipway-only settings (health, resources, bake). */
#define DESCRIPTOR_EXTENSION_KEY "x-slipway"

typedef enum DescriptorFormat {
        DESCRIPTOR_COMPONENT_YAML,        /* .choreo/component.yaml */
        DESCRIPTOR_COMPONENT_CONFIG_YAML, /* .choreo/component-config.yaml (older) */
        DESCRIPTOR_ENDPOINTS_YAML,        /* .choreo/endpoints.yaml (oldest) */
        _DESCRIPTOR_FORMAT_MAX,
        _DESCRIPTOR_FORMAT_INVALID = -EINVAL,
} DescriptorFormat;

typedef enum DescriptorEndpointType {
        DESCRIPTOR_ENDPOINT_REST,
        DESCRIPTOR_ENDPOINT_GRAPHQL,
        DESCRIPTOR_ENDPOINT_GRPC,
        DESCRIPTOR_ENDPOINT_TCP,
        DESCRIPTOR_ENDPOINT_UDP,
        DESCRIPTOR_ENDPOINT_WS,
        _DESCRIPTOR_ENDPOINT_TYPE_MAX,
        _DESCRIPTOR_ENDPOINT_TYPE_INVALID = -EINVAL,
} DescriptorEndpointType;

/* networkVisibilities, as bits; none given means Project. */
typedef enum DescriptorVisibility {
        DESCRIPTOR_VISIBILITY_PUBLIC = 1 << 0,
        DESCRIPTOR_VISIBILITY_ORGANIZATION = 1 << 1,
        DESCRIPTOR_VISIBILITY_PROJECT = 1 << 2,
} DescriptorVisibility;

/* configForm.type: Choreo's documented set; secret makes the configurable secret. */
typedef enum DescriptorConfigType {
        DESCRIPTOR_CONFIG_STRING,
        DESCRIPTOR_CONFIG_NUMBER,
        DESCRIPTOR_CONFIG_BOOLEAN,
        DESCRIPTOR_CONFIG_SECRET,
        _DESCRIPTOR_CONFIG_TYPE_MAX,
        _DESCRIPTOR_CONFIG_TYPE_INVALID = -EINVAL,
} DescriptorConfigType;

typedef struct DescriptorEndpoint {
        char name[DESCRIPTOR_ENDPOINT_NAME_MAX]; /* a DNS label (the endpoint-name rule) */
        char display_name[DESCRIPTOR_TEXT_MAX];  /* "" when not given */
        uint16_t port;
        char base_path[SPEC_BASE_PATH_MAX]; /* "/" when not given */
        DescriptorEndpointType type;
        unsigned visibilities;                      /* DescriptorVisibility bits, 0 = not given */
        char schema_file_path[DESCRIPTOR_PATH_MAX]; /* relative to the component's directory; "" = none */
        unsigned line, column;                      /* where the entry starts */
} DescriptorEndpoint;

typedef struct DescriptorConfig {
        char name[DESCRIPTOR_TEXT_MAX];        /* as written */
        char spec_name[SPEC_CONFIG_NAME_MAX];  /* the SpecConfig name: env = name; file = name with every
                                                * character outside [A-Za-z0-9_] as '_' */
        bool file;                             /* configurations.file[] */
        char mount_path[SPEC_CONFIG_PATH_MAX]; /* files only */
        char display_name[DESCRIPTOR_TEXT_MAX];
        bool required;             /* configForm.required, default true */
        DescriptorConfigType type; /* configForm.type, default string */
        /* env valueFrom.connectionRef {name, key} instead of configForm: "" when not given */
        char connection_name[DESCRIPTOR_TEXT_MAX];
        char connection_key[DESCRIPTOR_TEXT_MAX];
        unsigned line, column;
} DescriptorConfig;

/* x-slipway: every field is optional; 0 / "" = not given. */
typedef struct DescriptorExtension {
        char readiness[SPEC_HEALTH_PATH_MAX + 8]; /* "http:/PATH" | "tcp" | "none" */
        char liveness[SPEC_HEALTH_PATH_MAX + 8];
        SpecHealthTuning tuning; /* interval, timeout, failures, deployTimeout */
        uint64_t memory_bytes;
        uint32_t cpus_milli;
        uint32_t pids;
        bool bake_set;
        uint32_t bake_ms; /* bake.duration; 0 = no bake */
        bool max_5xx_set;
        uint32_t max_5xx_percent;
        unsigned line, column; /* where x-slipway's mapping starts */
} DescriptorExtension;

typedef struct Descriptor {
        DescriptorFormat format;
        char file[DESCRIPTOR_PATH_MAX]; /* as given to the parser, for messages */
        char schema_version[8];         /* "1.0" | "1.1" | "1.2"; the older files: "" */
        DescriptorEndpoint endpoints[DESCRIPTOR_ENDPOINTS_MAX];
        size_t n_endpoints;
        DescriptorConfig configs[DESCRIPTOR_CONFIGS_MAX]; /* env entries first, then files */
        size_t n_configs;
        json_t *dependencies; /* the dependencies (component.yaml) or outbound (component-config.yaml)
                               * value as JSON, scalars as strings; NULL when absent */
        bool has_extension;
        DescriptorExtension extension;
} Descriptor;

typedef struct DescriptorError {
        char file[DESCRIPTOR_PATH_MAX];
        unsigned line, column;                /* 1-based; 0 when the error is about the file as a whole */
        char message[DESCRIPTOR_MESSAGE_MAX]; /* one sentence */
        char text[DESCRIPTOR_PATH_MAX + DESCRIPTOR_MESSAGE_MAX + 32]; /* "FILE:LINE:COLUMN: SENTENCE" */
} DescriptorError;

const char *descriptor_format_to_string(DescriptorFormat f); /* the path under the component's directory */
const char *descriptor_endpoint_type_to_string(DescriptorEndpointType t);
DescriptorEndpointType descriptor_endpoint_type_from_string(const char *s);
const char *descriptor_config_type_to_string(DescriptorConfigType t);
DescriptorConfigType descriptor_config_type_from_string(const char *s);

Descriptor *descriptor_free(Descriptor *d);
DEFINE_TRIVIAL_CLEANUP_FUNC(Descriptor *, descriptor_free);

/* Parses data (size bytes, at most DESCRIPTOR_FILE_MAX) in the given format; file names it in errors.
 * Everything descriptor_to_spec() needs is checked here, so a parsed descriptor always maps.  0 and *ret,
 * -EINVAL with *ret_error filled, or -ENOMEM. */
int descriptor_parse(DescriptorFormat format, const char *file, const char *data, size_t size,
                     Descriptor **ret, DescriptorError *ret_error);

/* Which descriptor applies in SUBDIR (NULL or "" = the top) of the checked-out tree at dir_fd, in Choreo's
 * order: component.yaml, else component-config.yaml, else endpoints.yaml.  Paths never leave dir_fd (no
 * "..", no symlink out: -EXDEV or -ELOOP).  0 and *ret_format, -ENOENT when there is none, other -errno on
 * I/O. */
int descriptor_find(int dir_fd, const char *subdir, DescriptorFormat *ret_format);
/* descriptor_find() and descriptor_parse() of that file (a regular file of at most DESCRIPTOR_FILE_MAX
 * bytes); error messages name it as "SUBDIR/.choreo/NAME".  -ENOENT (with *ret_error) when there is none,
 * -EINVAL (with *ret_error) for a bad file or a path leading outside the tree, other -errno on I/O. */
int descriptor_load(int dir_fd, const char *subdir, Descriptor **ret, DescriptorError *ret_error);

/* The ComponentSpec the descriptor declares: its endpoints (Public among networkVisibilities →
 * ENDPOINT_PUBLIC, else ENDPOINT_PROJECT), configurables (required: false → optional, type secret →
 * secret, files mounted at mountPath), and x-slipway's health, resources and bake window over the
 * defaults.  -EINVAL with *ret_error when the combination does not map. */
int descriptor_to_spec(const Descriptor *d, ComponentSpec *ret, DescriptorError *ret_error);
